// Error reporting of the core: plain values, no exceptions across the ISA boundary, no Node types.
// The N-API layer maps Kind::Type to a JS TypeError and Kind::Range to a RangeError.
#pragma once
#include <string>

namespace fuseloss {

struct Status {
  enum class Kind { Ok, Type, Range, Internal };
  Kind kind = Kind::Ok;
  std::string message;

  static Status ok() { return {}; }
  static Status type_error(std::string m) { return {Kind::Type, std::move(m)}; }
  static Status range_error(std::string m) { return {Kind::Range, std::move(m)}; }
  static Status internal(std::string m) { return {Kind::Internal, std::move(m)}; }
  bool is_ok() const { return kind == Kind::Ok; }
};

}  // namespace fuseloss
