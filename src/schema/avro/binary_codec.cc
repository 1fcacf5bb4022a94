// The Avro binary encoding. The decoder treats its input as hostile.

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "schema/avro/avro_internal.h"
#include "schema/avro/wire_util.h"
#include "weir/schema/avro.h"

namespace weir::schema {
namespace {

// One step of the path to the datum being encoded or decoded; formatted only
// when an error is reported.
struct PathStep {
  const std::string* field = nullptr;  // record field
  const std::string* key = nullptr;    // map key
  int64_t index = -1;                  // array index
};

std::string FormatPath(const AvroNode& root, const std::vector<PathStep>& steps) {
  std::string out = avro_internal::PathRoot(root);
  for (const PathStep& s : steps) {
    if (s.field != nullptr) {
      out += '.';
      out += *s.field;
    } else if (s.key != nullptr) {
      out += fmt::format("[\"{}\"]", *s.key);
    } else {
      out += fmt::format("[{}]", s.index);
    }
  }
  return out;
}

// ----- Encoding.

using avro_internal::PutLittleEndian;
using avro_internal::PutLong;
using avro_internal::PutVarint;

class Encoder {
 public:
  Encoder(const AvroNode& root, std::string* out) : root_(root), out_(out) {}

  Status Encode(const AvroNode& node, const AvroValue& v) {
    if (node.type == AvroType::kUnion) {
      if (v.type() != AvroType::kUnion) {
        return Mismatch(node, v);
      }
      const AvroUnion& u = v.get<AvroUnion>();
      if (u.branch < 0 || static_cast<size_t>(u.branch) >= node.branches.size()) {
        return Error(fmt::format("union branch {} out of range (union has {} branches)", u.branch,
                                 node.branches.size()));
      }
      PutLong(u.branch, out_);
      return Encode(*node.branches[static_cast<size_t>(u.branch)], *u.value);
    }
    if (v.type() != node.type) return Mismatch(node, v);
    switch (node.type) {
      case AvroType::kNull:
        return Status::Ok();
      case AvroType::kBoolean:
        out_->push_back(v.get<bool>() ? 1 : 0);
        return Status::Ok();
      case AvroType::kInt:
        PutLong(v.get<int32_t>(), out_);
        return Status::Ok();
      case AvroType::kLong:
        PutLong(v.get<int64_t>(), out_);
        return Status::Ok();
      case AvroType::kFloat:
        PutLittleEndian(std::bit_cast<uint32_t>(v.get<float>()), out_);
        return Status::Ok();
      case AvroType::kDouble:
        PutLittleEndian(std::bit_cast<uint64_t>(v.get<double>()), out_);
        return Status::Ok();
      case AvroType::kBytes:
        PutLong(static_cast<int64_t>(v.get<AvroBytes>().data.size()), out_);
        *out_ += v.get<AvroBytes>().data;
        return Status::Ok();
      case AvroType::kString:
        PutLong(static_cast<int64_t>(v.get<std::string>().size()), out_);
        *out_ += v.get<std::string>();
        return Status::Ok();
      case AvroType::kFixed: {
        const std::string& d = v.get<AvroFixed>().data;
        if (d.size() != node.size) {
          return Error(fmt::format("fixed {} needs {} bytes, the value has {}", node.full_name,
                                   node.size, d.size()));
        }
        *out_ += d;
        return Status::Ok();
      }
      case AvroType::kEnum: {
        const AvroEnum& e = v.get<AvroEnum>();
        int index = e.index;
        if (!e.symbol.empty()) index = node.SymbolIndex(e.symbol);
        if (index < 0 || static_cast<size_t>(index) >= node.symbols.size()) {
          return Error(fmt::format("\"{}\" (index {}) is not a symbol of enum {}", e.symbol,
                                   e.index, node.full_name));
        }
        PutLong(index, out_);
        return Status::Ok();
      }
      case AvroType::kRecord: {
        const AvroRecord& r = v.get<AvroRecord>();
        for (size_t i = 0; i < node.fields.size(); ++i) {
          const AvroField& f = node.fields[i];
          path_.push_back({.field = &f.name});
          // Fields are usually in schema order; fall back to a search by name.
          const AvroValue* fv = nullptr;
          if (i < r.fields.size() && r.fields[i].first == f.name) {
            fv = &r.fields[i].second;
          } else {
            fv = r.Find(f.name);
          }
          if (fv == nullptr) fv = f.default_value.get();
          if (fv == nullptr) return Error("missing field without a default");
          WEIR_RETURN_IF_ERROR(Encode(*f.type, *fv));
          path_.pop_back();
        }
        return Status::Ok();
      }
      case AvroType::kArray: {
        const auto& items = v.get<AvroArray>().items;
        if (!items.empty()) PutLong(static_cast<int64_t>(items.size()), out_);
        for (size_t i = 0; i < items.size(); ++i) {
          path_.push_back({.index = static_cast<int64_t>(i)});
          WEIR_RETURN_IF_ERROR(Encode(*node.items, items[i]));
          path_.pop_back();
        }
        out_->push_back(0);
        return Status::Ok();
      }
      case AvroType::kMap: {
        const auto& entries = v.get<AvroMap>().entries;
        if (!entries.empty()) PutLong(static_cast<int64_t>(entries.size()), out_);
        for (const auto& [key, value] : entries) {
          path_.push_back({.key = &key});
          PutLong(static_cast<int64_t>(key.size()), out_);
          *out_ += key;
          WEIR_RETURN_IF_ERROR(Encode(*node.items, value));
          path_.pop_back();
        }
        out_->push_back(0);
        return Status::Ok();
      }
      case AvroType::kUnion:
        break;
    }
    return Status::Internal("unhandled Avro type");
  }

 private:
  Status Error(std::string_view what) const {
    return Status::InvalidArgument(
        fmt::format("avro encode: at {}: {}", FormatPath(root_, path_), what));
  }
  Status Mismatch(const AvroNode& node, const AvroValue& v) const {
    return Error(fmt::format("schema wants {}, the value is {}", avro_internal::Describe(node),
                             AvroTypeName(v.type())));
  }

  const AvroNode& root_;
  std::string* out_;
  std::vector<PathStep> path_;
};

// ----- Decoding.

class Decoder {
 public:
  Decoder(const AvroNode& root, std::string_view in, const AvroDecodeOptions& options)
      : root_(root), in_(in), options_(options) {}

  size_t pos() const { return pos_; }

  Status Error(std::string_view what) const {
    return Status::Corruption(fmt::format("avro decode: at byte {}: {} (field path {})", pos_, what,
                                          FormatPath(root_, path_)));
  }

  Result<AvroValue> Decode(const AvroNode& node, int depth) {
    if (depth > options_.max_depth) {
      return Error(fmt::format("nesting deeper than {}", options_.max_depth));
    }
    switch (node.type) {
      case AvroType::kNull:
        return AvroValue();
      case AvroType::kBoolean: {
        if (pos_ >= in_.size()) return Error("truncated: boolean expected");
        auto b = static_cast<unsigned char>(in_[pos_]);
        if (b > 1) return Error(fmt::format("boolean byte is {}, not 0 or 1", b));
        ++pos_;
        return AvroValue(b == 1);
      }
      case AvroType::kInt: {
        WEIR_ASSIGN_OR_RETURN(int64_t v, ReadLong("int"));
        if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
          return Error(fmt::format("int value {} does not fit 32 bits", v));
        }
        return AvroValue(static_cast<int32_t>(v));
      }
      case AvroType::kLong: {
        WEIR_ASSIGN_OR_RETURN(int64_t v, ReadLong("long"));
        return AvroValue(v);
      }
      case AvroType::kFloat: {
        if (in_.size() - pos_ < 4) return Error("truncated: float needs 4 bytes");
        uint32_t bits = 0;
        for (int i = 0; i < 4; ++i) {
          bits |= uint32_t{static_cast<unsigned char>(in_[pos_ + static_cast<size_t>(i)])}
                  << (8 * i);
        }
        pos_ += 4;
        return AvroValue(std::bit_cast<float>(bits));
      }
      case AvroType::kDouble: {
        if (in_.size() - pos_ < 8) return Error("truncated: double needs 8 bytes");
        uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) {
          bits |= uint64_t{static_cast<unsigned char>(in_[pos_ + static_cast<size_t>(i)])}
                  << (8 * i);
        }
        pos_ += 8;
        return AvroValue(std::bit_cast<double>(bits));
      }
      case AvroType::kBytes: {
        WEIR_ASSIGN_OR_RETURN(std::string_view s, ReadLengthPrefixed("bytes"));
        return AvroValue(AvroBytes{std::string(s)});
      }
      case AvroType::kString: {
        WEIR_ASSIGN_OR_RETURN(std::string_view s, ReadLengthPrefixed("string"));
        return AvroValue(std::string(s));
      }
      case AvroType::kFixed: {
        if (in_.size() - pos_ < node.size) {
          return Error(fmt::format("truncated: fixed {} needs {} bytes, {} remain", node.full_name,
                                   node.size, in_.size() - pos_));
        }
        std::string data(in_.substr(pos_, node.size));
        pos_ += node.size;
        return AvroValue(AvroFixed{std::move(data)});
      }
      case AvroType::kEnum: {
        size_t start = pos_;
        WEIR_ASSIGN_OR_RETURN(int64_t index, ReadLong("enum index"));
        if (index < 0 || static_cast<uint64_t>(index) >= node.symbols.size()) {
          pos_ = start;
          return Error(fmt::format("enum index {} out of range (enum {} has {} symbols)", index,
                                   node.full_name, node.symbols.size()));
        }
        return AvroValue(
            AvroEnum{static_cast<int32_t>(index), node.symbols[static_cast<size_t>(index)]});
      }
      case AvroType::kUnion: {
        size_t start = pos_;
        WEIR_ASSIGN_OR_RETURN(int64_t index, ReadLong("union index"));
        if (index < 0 || static_cast<uint64_t>(index) >= node.branches.size()) {
          pos_ = start;
          return Error(fmt::format("union index {} out of range (union has {} branches)", index,
                                   node.branches.size()));
        }
        WEIR_ASSIGN_OR_RETURN(AvroValue v,
                              Decode(*node.branches[static_cast<size_t>(index)], depth + 1));
        return AvroValue(AvroUnion(static_cast<int32_t>(index), std::move(v)));
      }
      case AvroType::kRecord: {
        AvroRecord r;
        r.fields.reserve(node.fields.size());
        for (const AvroField& f : node.fields) {
          path_.push_back({.field = &f.name});
          WEIR_ASSIGN_OR_RETURN(AvroValue v, Decode(*f.type, depth + 1));
          path_.pop_back();
          r.fields.emplace_back(f.name, std::move(v));
        }
        return AvroValue(std::move(r));
      }
      case AvroType::kArray: {
        AvroArray a;
        int64_t index = 0;
        while (true) {
          // Items that take no bytes are bounded by the item budget alone, so
          // each is charged for every value it decodes to.
          const size_t min_item_size = MinSize(*node.items, 0);
          WEIR_ASSIGN_OR_RETURN(int64_t count,
                                ReadBlockCount("array", min_item_size,
                                               min_item_size > 0 ? 1 : ValueCount(*node.items, 0)));
          if (count == 0) break;
          // Never reserve more than the input could plausibly hold.
          ReserveMore(&a.items, std::min(static_cast<size_t>(count), in_.size() - pos_ + 1));
          for (int64_t i = 0; i < count; ++i, ++index) {
            path_.push_back({.index = index});
            WEIR_ASSIGN_OR_RETURN(AvroValue v, Decode(*node.items, depth + 1));
            path_.pop_back();
            a.items.push_back(std::move(v));
          }
        }
        return AvroValue(std::move(a));
      }
      case AvroType::kMap: {
        AvroMap m;
        while (true) {
          // Every entry has a key, which takes at least one byte.
          WEIR_ASSIGN_OR_RETURN(int64_t count, ReadBlockCount("map", 1, 1));
          if (count == 0) break;
          ReserveMore(&m.entries, static_cast<size_t>(count));
          for (int64_t i = 0; i < count; ++i) {
            WEIR_ASSIGN_OR_RETURN(std::string_view key, ReadLengthPrefixed("map key"));
            m.entries.emplace_back(std::string(key), AvroValue());
            path_.push_back({.key = &m.entries.back().first});
            WEIR_ASSIGN_OR_RETURN(m.entries.back().second, Decode(*node.items, depth + 1));
            path_.pop_back();
          }
        }
        return AvroValue(std::move(m));
      }
    }
    return Status::Internal("unhandled Avro type");
  }

 private:
  // Nested records deeper than this are not examined by MinSize and
  // ValueCount; their answers stay safe (0 bytes, 1 value).
  static constexpr int kMaxSchemaWalk = 16;

  // Smallest encoded size of a value of |node|, as 0 or 1: 0 only for null,
  // zero-size fixed and records of such. A conservative answer of 0 is safe,
  // it only disables a check.
  static size_t MinSize(const AvroNode& node, int depth) {
    switch (node.type) {
      case AvroType::kNull:
        return 0;
      case AvroType::kFixed:
        return node.size > 0 ? 1 : 0;
      case AvroType::kRecord:
        if (depth >= kMaxSchemaWalk) return 0;
        for (const AvroField& f : node.fields) {
          if (MinSize(*f.type, depth + 1) > 0) return 1;
        }
        return 0;
      default:
        return 1;
    }
  }

  // Number of values one datum of |node| decodes to, for a |node| whose
  // datums take no bytes (MinSize 0): 1, plus the fields of records. Stops
  // counting (and walking) past the item budget.
  int64_t ValueCount(const AvroNode& node, int depth) const {
    int64_t n = 1;
    if (node.type != AvroType::kRecord || depth >= kMaxSchemaWalk) return n;
    for (const AvroField& f : node.fields) {
      if (n > options_.max_items) break;
      n += ValueCount(*f.type, depth + 1);
    }
    return n;
  }

  // Grows |v| for |more| elements, geometrically, so that many small blocks
  // cost linear time.
  template <typename Vector>
  static void ReserveMore(Vector* v, size_t more) {
    const size_t needed = v->size() + more;
    if (needed > v->capacity()) v->reserve(std::max(needed, 2 * v->capacity()));
  }

  Result<int64_t> ReadLong(std::string_view what) {
    uint64_t v = 0;
    for (int shift = 0, n = 0;; shift += 7, ++n) {
      if (n == 10) return Error(fmt::format("{}: varint longer than 10 bytes", what));
      if (pos_ >= in_.size()) return Error(fmt::format("truncated: {} expected", what));
      auto b = static_cast<unsigned char>(in_[pos_++]);
      if (n == 9 && (b & 0x7f) > 1) return Error(fmt::format("{}: varint overflows 64 bits", what));
      v |= uint64_t{b & 0x7fu} << shift;
      if ((b & 0x80) == 0) break;
    }
    return static_cast<int64_t>((v >> 1) ^ (0 - (v & 1)));
  }

  Result<std::string_view> ReadLengthPrefixed(std::string_view what) {
    size_t start = pos_;
    WEIR_ASSIGN_OR_RETURN(int64_t len, ReadLong(fmt::format("{} length", what)));
    if (len < 0) {
      pos_ = start;
      return Error(fmt::format("negative {} length {}", what, len));
    }
    if (static_cast<uint64_t>(len) > in_.size() - pos_) {
      const size_t remaining = in_.size() - pos_;
      pos_ = start;
      return Error(
          fmt::format("{} length {} exceeds the {} bytes remaining", what, len, remaining));
    }
    std::string_view s = in_.substr(pos_, static_cast<size_t>(len));
    pos_ += static_cast<size_t>(len);
    return s;
  }

  // Reads an array or map block header; returns the item count (0 at the end)
  // after checking it against the bytes left (for items of at least
  // |min_item_size| bytes) and charging it, |values_per_item| times, to the
  // item budget.
  Result<int64_t> ReadBlockCount(std::string_view what, size_t min_item_size,
                                 int64_t values_per_item) {
    size_t start = pos_;
    WEIR_ASSIGN_OR_RETURN(int64_t count, ReadLong("block count"));
    if (count < 0) {
      if (count == std::numeric_limits<int64_t>::min()) {
        pos_ = start;
        return Error("block count out of range");
      }
      count = -count;
      WEIR_ASSIGN_OR_RETURN(int64_t byte_size, ReadLong("block byte size"));
      if (byte_size < 0 || static_cast<uint64_t>(byte_size) > in_.size() - pos_) {
        pos_ = start;
        return Error(fmt::format("block byte size {} invalid with {} bytes remaining", byte_size,
                                 in_.size() - pos_));
      }
    }
    // Items that take at least one byte cannot outnumber the bytes left.
    if (min_item_size > 0 && static_cast<uint64_t>(count) > in_.size() - pos_) {
      const size_t remaining = in_.size() - pos_;
      pos_ = start;
      return Error(
          fmt::format("{} block declares {} items, only {} bytes remain", what, count, remaining));
    }
    if (count > (options_.max_items - items_) / values_per_item) {
      pos_ = start;
      if (values_per_item > 1) {
        return Error(fmt::format(
            "block of {} items of {} values each exceeds the limit of {} items per datum", count,
            values_per_item, options_.max_items));
      }
      return Error(fmt::format("block of {} items exceeds the limit of {} items per datum", count,
                               options_.max_items));
    }
    items_ += count * values_per_item;
    return count;
  }

  const AvroNode& root_;
  std::string_view in_;
  const AvroDecodeOptions& options_;
  size_t pos_ = 0;
  int64_t items_ = 0;
  std::vector<PathStep> path_;
};

}  // namespace

Result<std::string> EncodeBinary(const AvroSchema& schema, const AvroValue& value) {
  std::string out;
  Encoder encoder(schema.root(), &out);
  WEIR_RETURN_IF_ERROR(encoder.Encode(schema.root(), value));
  return out;
}

Result<AvroValue> DecodeBinary(const AvroSchema& schema, std::string_view bytes,
                               const AvroDecodeOptions& options) {
  Decoder decoder(schema.root(), bytes, options);
  WEIR_ASSIGN_OR_RETURN(AvroValue v, decoder.Decode(schema.root(), 0));
  if (!options.allow_trailing_bytes && decoder.pos() != bytes.size()) {
    return decoder.Error(
        fmt::format("{} trailing bytes after the datum", bytes.size() - decoder.pos()));
  }
  return v;
}

}  // namespace weir::schema
