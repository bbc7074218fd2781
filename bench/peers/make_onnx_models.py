"""Writes the onnxruntime-node peer's graphs (bench/peers/models/*.onnx): each loss's forward AND its
gradient, spelled out in plain ONNX operators as a user without fuseloss would have to (ONNX Runtime's
inference ops have no autograd). Run with Debian's python3-onnx: `/usr/bin/python3 bench/peers/make_onnx_models.py`.
The .onnx files are committed; the bench does not need python."""
import os

import onnx
from onnx import TensorProto, helper

OUT = os.path.join(os.path.dirname(__file__), 'models')
os.makedirs(OUT, exist_ok=True)
OPSET = [helper.make_opsetid('', 13)]


def const(name, value, dtype=TensorProto.FLOAT):
    return helper.make_node('Constant', [], [name], value=helper.make_tensor(name + '_v', dtype, [len(value)] if isinstance(value, list) else [], value if isinstance(value, list) else [value]))


def cross_entropy():
    # logits [N, C], labels [N] (int64): mean cross-entropy and d/dlogits = (softmax - onehot) / N
    nodes = [
        const('axes1', [1], TensorProto.INT64),
        helper.make_node('ReduceMax', ['logits'], ['m'], axes=[1], keepdims=1),
        helper.make_node('Sub', ['logits', 'm'], ['z']),
        helper.make_node('Exp', ['z'], ['e']),
        helper.make_node('ReduceSum', ['e', 'axes1'], ['s'], keepdims=1),
        helper.make_node('Log', ['s'], ['lse']),
        helper.make_node('Sub', ['z', 'lse'], ['logp']),
        helper.make_node('Div', ['e', 's'], ['p']),
        helper.make_node('Shape', ['logits'], ['shape']),
        const('one_idx', [1], TensorProto.INT64),
        helper.make_node('Gather', ['shape', 'one_idx'], ['depth']),
        const('zero_one', [0.0, 1.0]),
        helper.make_node('OneHot', ['labels', 'depth', 'zero_one'], ['onehot'], axis=-1),
        helper.make_node('Mul', ['onehot', 'logp'], ['picked']),
        helper.make_node('ReduceSum', ['picked', 'axes1'], ['row'], keepdims=0),
        helper.make_node('ReduceMean', ['row'], ['mean_row'], keepdims=0),
        helper.make_node('Neg', ['mean_row'], ['loss']),
        const('zero_idx', [0], TensorProto.INT64),
        helper.make_node('Gather', ['shape', 'zero_idx'], ['n_i']),
        helper.make_node('Cast', ['n_i'], ['n_f'], to=TensorProto.FLOAT),
        helper.make_node('Sub', ['p', 'onehot'], ['diff']),
        helper.make_node('Div', ['diff', 'n_f'], ['grad']),
    ]
    graph = helper.make_graph(nodes, 'cross_entropy_fwd_bwd',
                              [helper.make_tensor_value_info('logits', TensorProto.FLOAT, ['N', 'C']),
                               helper.make_tensor_value_info('labels', TensorProto.INT64, ['N'])],
                              [helper.make_tensor_value_info('loss', TensorProto.FLOAT, []),
                               helper.make_tensor_value_info('grad', TensorProto.FLOAT, ['N', 'C'])])
    return helper.make_model(graph, opset_imports=OPSET, producer_name='fuseloss-bench')


def mse():
    # x, t [N, D]: mean squared error and d/dx = 2·(x - t) / numel
    nodes = [
        helper.make_node('Sub', ['x', 't'], ['d']),
        helper.make_node('Mul', ['d', 'd'], ['sq']),
        helper.make_node('ReduceMean', ['sq'], ['loss'], keepdims=0),
        helper.make_node('Size', ['x'], ['numel_i']),
        helper.make_node('Cast', ['numel_i'], ['numel'], to=TensorProto.FLOAT),
        const('two', 2.0),
        helper.make_node('Div', ['two', 'numel'], ['k']),
        helper.make_node('Mul', ['d', 'k'], ['grad']),
    ]
    graph = helper.make_graph(nodes, 'mse_fwd_bwd',
                              [helper.make_tensor_value_info('x', TensorProto.FLOAT, ['N', 'D']),
                               helper.make_tensor_value_info('t', TensorProto.FLOAT, ['N', 'D'])],
                              [helper.make_tensor_value_info('loss', TensorProto.FLOAT, []),
                               helper.make_tensor_value_info('grad', TensorProto.FLOAT, ['N', 'D'])])
    return helper.make_model(graph, opset_imports=OPSET, producer_name='fuseloss-bench')


for name, model in [('cross_entropy', cross_entropy()), ('mse', mse())]:
    onnx.checker.check_model(model)
    onnx.save(model, os.path.join(OUT, f'{name}.onnx'))
    print('wrote', os.path.join(OUT, f'{name}.onnx'))
