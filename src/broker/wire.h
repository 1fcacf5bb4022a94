// broker/wire.h — Kafka wire primitives: big-endian integers, varints,
// strings, bytes and arrays, read from a request frame or written into a
// response.
//
// Decoding throws DecodeError on any malformed input (short buffer, negative
// length other than the null marker, an array longer than the bytes left);
// the connection that received the frame catches it, logs it and closes. It
// never escapes the connection thread. Encoding cannot fail.
//
// Encoder and Decoder share one method set, so each message is described once
// by a Serialize(io, version) template (see messages.h) that both directions
// run.
#pragma once

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace weir::broker {

class DecodeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Nullable bytes decoded in place: a view into the request frame, which
// must outlive it (the broker keeps the frame until the response is built).
// Produce records travel this way, so a batch is never copied before it is
// written to its segment.
struct BytesView {
  const uint8_t* data = nullptr;
  size_t size = 0;
  bool null = true;
  std::span<const uint8_t> span() const { return {data, size}; }
};

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> data) : data_(data) {}

  size_t remaining() const { return data_.size() - pos_; }
  size_t position() const { return pos_; }

  int8_t Int8() { return static_cast<int8_t>(Fixed<uint8_t>()); }
  int16_t Int16() { return static_cast<int16_t>(Fixed<uint16_t>()); }
  int32_t Int32() { return static_cast<int32_t>(Fixed<uint32_t>()); }
  int64_t Int64() { return static_cast<int64_t>(Fixed<uint64_t>()); }
  bool Bool() { return Int8() != 0; }

  uint64_t UnsignedVarint() {
    uint64_t value = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      Need(1, "varint");
      uint8_t b = data_[pos_++];
      value |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return value;
    }
    throw DecodeError("varint longer than 10 bytes");
  }
  int64_t Varint() {
    uint64_t u = UnsignedVarint();
    return static_cast<int64_t>(u >> 1) ^ -static_cast<int64_t>(u & 1);
  }

  std::string String() {
    int16_t n = Int16();
    if (n < 0) throw DecodeError("negative string length");
    return Take(static_cast<size_t>(n), "string");
  }
  std::optional<std::string> NullableString() {
    int16_t n = Int16();
    if (n == -1) return std::nullopt;
    if (n < 0) throw DecodeError("negative string length");
    return Take(static_cast<size_t>(n), "string");
  }
  std::string Bytes() {
    int32_t n = Int32();
    if (n < 0) throw DecodeError("negative bytes length");
    return Take(static_cast<size_t>(n), "bytes");
  }
  std::optional<std::string> NullableBytes() {
    int32_t n = Int32();
    if (n == -1) return std::nullopt;
    if (n < 0) throw DecodeError("negative bytes length");
    return Take(static_cast<size_t>(n), "bytes");
  }
  BytesView NullableBytesView() {
    int32_t n = Int32();
    if (n == -1) return {};
    if (n < 0) throw DecodeError("negative bytes length");
    Need(static_cast<size_t>(n), "bytes");
    BytesView v{data_.data() + pos_, static_cast<size_t>(n), false};
    pos_ += static_cast<size_t>(n);
    return v;
  }
  // An array length: -1 (null) or a count that the remaining bytes could hold
  // (every element takes at least one byte), so a hostile count cannot make
  // the decoder allocate.
  int32_t ArrayLength() {
    int32_t n = Int32();
    if (n < -1) throw DecodeError("negative array length");
    if (n > 0 && static_cast<size_t>(n) > remaining()) {
      throw DecodeError("array length " + std::to_string(n) + " exceeds the " +
                        std::to_string(remaining()) + " bytes left");
    }
    return n;
  }
  void Skip(size_t n) {
    Need(n, "skip");
    pos_ += n;
  }

 private:
  template <typename U>
  U Fixed() {
    Need(sizeof(U), "integer");
    U v = 0;
    for (size_t i = 0; i < sizeof(U); ++i) v = static_cast<U>((v << 8) | data_[pos_ + i]);
    pos_ += sizeof(U);
    return v;
  }
  void Need(size_t n, const char* what) {
    if (remaining() < n) {
      throw DecodeError(std::string("truncated ") + what + ": need " + std::to_string(n) +
                        " bytes, " + std::to_string(remaining()) + " left");
    }
  }
  std::string Take(size_t n, const char* what) {
    Need(n, what);
    std::string s(reinterpret_cast<const char*>(data_.data() + pos_), n);
    pos_ += n;
    return s;
  }

  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

class Writer {
 public:
  void Int8(int8_t v) { out_.push_back(static_cast<char>(v)); }
  void Int16(int16_t v) { Fixed(static_cast<uint16_t>(v)); }
  void Int32(int32_t v) { Fixed(static_cast<uint32_t>(v)); }
  void Int64(int64_t v) { Fixed(static_cast<uint64_t>(v)); }
  void Bool(bool v) { Int8(v ? 1 : 0); }
  void UnsignedVarint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void Varint(int64_t v) {
    UnsignedVarint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63));
  }
  // The protocol's strings are at most 32767 bytes: longer ones (an error
  // message echoing a huge value) are cut there, never wrapped.
  void String(const std::string& s) {
    size_t n = std::min<size_t>(s.size(), INT16_MAX);
    Int16(static_cast<int16_t>(n));
    out_.append(s, 0, n);
  }
  void NullableString(const std::optional<std::string>& s) {
    if (!s) return Int16(-1);
    String(*s);
  }
  void Bytes(const std::string& b) {
    Int32(static_cast<int32_t>(b.size()));
    out_ += b;
  }
  void NullableBytes(const std::optional<std::string>& b) {
    if (!b) return Int32(-1);
    Bytes(*b);
  }
  void NullableBytesView(const BytesView& b) {
    if (b.null) return Int32(-1);
    Int32(static_cast<int32_t>(b.size));
    out_.append(reinterpret_cast<const char*>(b.data), b.size);
  }
  void ArrayLength(int32_t n) { Int32(n); }
  void Raw(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }

  std::string& buffer() { return out_; }
  size_t size() const { return out_.size(); }
  // Overwrites 4 bytes at |pos| with |v| (for a size prefix written last).
  void PatchInt32(size_t pos, int32_t v) {
    auto u = static_cast<uint32_t>(v);
    for (int i = 3; i >= 0; --i) {
      out_[pos + static_cast<size_t>(i)] = static_cast<char>(u & 0xff);
      u >>= 8;
    }
  }

 private:
  template <typename U>
  void Fixed(U v) {
    char b[sizeof(U)];
    for (size_t i = 0; i < sizeof(U); ++i) {
      b[sizeof(U) - 1 - i] = static_cast<char>(v & 0xff);
      v = static_cast<U>(v >> 8);
    }
    out_.append(b, sizeof(U));
  }

  std::string out_;
};

// The two directions of a message's Serialize(io, version).
class Decoder {
 public:
  static constexpr bool kDecoding = true;
  explicit Decoder(Reader& r) : r_(r) {}
  void Int8(int8_t& v) { v = r_.Int8(); }
  void Int16(int16_t& v) { v = r_.Int16(); }
  void Int32(int32_t& v) { v = r_.Int32(); }
  void Int64(int64_t& v) { v = r_.Int64(); }
  void Bool(bool& v) { v = r_.Bool(); }
  void String(std::string& v) { v = r_.String(); }
  void NullableString(std::optional<std::string>& v) { v = r_.NullableString(); }
  void Bytes(std::string& v) { v = r_.Bytes(); }
  void NullableBytes(std::optional<std::string>& v) { v = r_.NullableBytes(); }
  void NullableBytesView(BytesView& v) { v = r_.NullableBytesView(); }
  // Elements are added as they decode, never pre-sized from the count: a
  // hostile count then costs memory in proportion to the bytes actually
  // sent, not to sizeof(T) times the count.
  template <typename T, typename F>
  void Array(std::vector<T>& v, F&& each) {
    int32_t n = r_.ArrayLength();
    v.clear();
    Fill(v, n, each);
  }
  template <typename T, typename F>
  void NullableArray(std::optional<std::vector<T>>& v, F&& each) {
    int32_t n = r_.ArrayLength();
    if (n < 0) {
      v.reset();
      return;
    }
    v.emplace();
    Fill(*v, n, each);
  }
  // int32 arrays appear often enough to deserve a shorthand.
  void Int32Array(std::vector<int32_t>& v) {
    Array(v, [this](int32_t& e) { Int32(e); });
  }
  void StringArray(std::vector<std::string>& v) {
    Array(v, [this](std::string& e) { String(e); });
  }

 private:
  template <typename T, typename F>
  void Fill(std::vector<T>& v, int32_t n, F& each) {
    v.reserve(static_cast<size_t>(std::min(n, 64)));
    for (int32_t i = 0; i < n; ++i) each(v.emplace_back());
  }
  Reader& r_;
};

class Encoder {
 public:
  static constexpr bool kDecoding = false;
  explicit Encoder(Writer& w) : w_(w) {}
  void Int8(const int8_t& v) { w_.Int8(v); }
  void Int16(const int16_t& v) { w_.Int16(v); }
  void Int32(const int32_t& v) { w_.Int32(v); }
  void Int64(const int64_t& v) { w_.Int64(v); }
  void Bool(const bool& v) { w_.Bool(v); }
  void String(const std::string& v) { w_.String(v); }
  void NullableString(const std::optional<std::string>& v) { w_.NullableString(v); }
  void Bytes(const std::string& v) { w_.Bytes(v); }
  void NullableBytes(const std::optional<std::string>& v) { w_.NullableBytes(v); }
  void NullableBytesView(const BytesView& v) { w_.NullableBytesView(v); }
  template <typename T, typename F>
  void Array(std::vector<T>& v, F&& each) {
    w_.ArrayLength(static_cast<int32_t>(v.size()));
    for (T& e : v) each(e);
  }
  template <typename T, typename F>
  void NullableArray(std::optional<std::vector<T>>& v, F&& each) {
    if (!v) return w_.ArrayLength(-1);
    Array(*v, each);
  }
  void Int32Array(std::vector<int32_t>& v) {
    Array(v, [this](int32_t& e) { Int32(e); });
  }
  void StringArray(std::vector<std::string>& v) {
    Array(v, [this](std::string& e) { String(e); });
  }

 private:
  Writer& w_;
};

}  // namespace weir::broker
