// The plan builders of every loss family (see loss_plan.h): each checks its arguments exactly as the
// single-loss entry point does and, on success, describes the work without doing any of it.
#pragma once
#include "fuseloss/cross_entropy.h"
#include "fuseloss/elementwise.h"
#include "fuseloss/rowwise.h"
#include "loss_plan.h"

namespace fuseloss {

Status plan_cross_entropy(const CrossEntropyArgs& args, LossPlan* plan);
Status plan_nll_loss(const CrossEntropyArgs& args, LossPlan* plan);
Status plan_elementwise_loss(const ElementwiseArgs& args, LossPlan* plan);
Status plan_multi_margin_loss(const RowLossArgs& args, LossPlan* plan);
Status plan_multilabel_soft_margin_loss(const RowLossArgs& args, LossPlan* plan);
Status plan_cosine_embedding_loss(const RowLossArgs& args, LossPlan* plan);
Status plan_soft_f1_loss(const RowLossArgs& args, LossPlan* plan);
Status plan_cosine_distance(const RowLossArgs& args, LossPlan* plan);

}  // namespace fuseloss
