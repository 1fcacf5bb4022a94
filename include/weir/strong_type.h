// weir/strong_type.h — integer wrappers that cannot be mixed by accident.
//
// StrongInt<int32_t, PartitionTag> and StrongInt<int64_t, OffsetTag> are
// distinct types: passing an offset where a partition is expected does not
// compile. Construction from the raw integer is explicit; value() unwraps.
#pragma once

#include <compare>
#include <cstddef>
#include <functional>

namespace weir {

template <typename T, typename Tag>
class StrongInt {
 public:
  using ValueType = T;
  constexpr StrongInt() = default;
  constexpr explicit StrongInt(T v) : v_(v) {}
  constexpr T value() const { return v_; }
  constexpr auto operator<=>(const StrongInt&) const = default;
  constexpr StrongInt& operator++() {
    ++v_;
    return *this;
  }
  constexpr StrongInt operator+(T d) const { return StrongInt(v_ + d); }
  constexpr StrongInt operator-(T d) const { return StrongInt(v_ - d); }

 private:
  T v_{};
};

}  // namespace weir

template <typename T, typename Tag>
struct std::hash<weir::StrongInt<T, Tag>> {
  std::size_t operator()(const weir::StrongInt<T, Tag>& s) const noexcept {
    return std::hash<T>{}(s.value());
  }
};
