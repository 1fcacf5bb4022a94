// Schema resolution: reading data written with one schema as another.

#include <fmt/format.h>

#include <algorithm>

#include "schema/avro/avro_internal.h"
#include "weir/schema/avro.h"

namespace weir::schema {
namespace {

// True when the named types |w| and |r| match: same unqualified name, or the
// writer's full name is one of the reader's aliases.
bool NamesMatch(const AvroNode& w, const AvroNode& r) {
  if (w.name == r.name) return true;
  return std::find(r.aliases.begin(), r.aliases.end(), w.full_name) != r.aliases.end();
}

// True when a value of writer type |w| can be promoted to reader type |r|.
bool Promotable(AvroType w, AvroType r) {
  switch (w) {
    case AvroType::kInt:
      return r == AvroType::kLong || r == AvroType::kFloat || r == AvroType::kDouble;
    case AvroType::kLong:
      return r == AvroType::kFloat || r == AvroType::kDouble;
    case AvroType::kFloat:
      return r == AvroType::kDouble;
    case AvroType::kString:
      return r == AvroType::kBytes;
    case AvroType::kBytes:
      return r == AvroType::kString;
    default:
      return false;
  }
}

// True when the non-union writer schema |w| matches reader schema |r| without
// promotion.
bool ExactMatch(const AvroNode& w, const AvroNode& r) {
  if (w.type != r.type) return false;
  switch (w.type) {
    case AvroType::kRecord:
    case AvroType::kEnum:
      return NamesMatch(w, r);
    case AvroType::kFixed:
      return NamesMatch(w, r) && w.size == r.size;
    case AvroType::kArray:
    case AvroType::kMap:
      return ExactMatch(*w.items, *r.items) || Promotable(w.items->type, r.items->type) ||
             w.items->type == AvroType::kUnion || r.items->type == AvroType::kUnion;
    default:
      return true;
  }
}

class Resolver {
 public:
  explicit Resolver(std::string root) : path_(std::move(root)) {}

  Result<AvroValue> Resolve(const AvroNode& w, const AvroNode& r, const AvroValue& v) {
    if (w.type == AvroType::kUnion) {
      if (v.type() != AvroType::kUnion) return Error("writer union value is not a union");
      const AvroUnion& u = v.get<AvroUnion>();
      if (u.branch < 0 || static_cast<size_t>(u.branch) >= w.branches.size()) {
        return Error(fmt::format("writer union branch {} out of range", u.branch));
      }
      return Resolve(*w.branches[static_cast<size_t>(u.branch)], r, *u.value);
    }
    if (r.type == AvroType::kUnion) {
      int chosen = -1;
      for (size_t i = 0; i < r.branches.size() && chosen < 0; ++i) {
        if (ExactMatch(w, *r.branches[i])) chosen = static_cast<int>(i);
      }
      for (size_t i = 0; i < r.branches.size() && chosen < 0; ++i) {
        if (Promotable(w.type, r.branches[i]->type)) chosen = static_cast<int>(i);
      }
      if (chosen < 0) {
        return Error(fmt::format("the reader's union has no branch for the writer's {}",
                                 avro_internal::Describe(w)));
      }
      WEIR_ASSIGN_OR_RETURN(AvroValue inner,
                            Resolve(w, *r.branches[static_cast<size_t>(chosen)], v));
      return AvroValue(AvroUnion(chosen, std::move(inner)));
    }
    if (w.type != r.type) return Promote(w, r, v);
    switch (r.type) {
      case AvroType::kRecord:
        return ResolveRecord(w, r, v);
      case AvroType::kEnum: {
        if (!NamesMatch(w, r)) return NameMismatch(w, r);
        const std::string& symbol = v.get<AvroEnum>().symbol;
        int index = r.SymbolIndex(symbol);
        if (index < 0 && r.enum_default) index = r.SymbolIndex(*r.enum_default);
        if (index < 0) {
          return Error(fmt::format("symbol \"{}\" is not in the reader's enum {} (no default)",
                                   symbol, r.full_name));
        }
        return AvroValue(AvroEnum{index, r.symbols[static_cast<size_t>(index)]});
      }
      case AvroType::kFixed:
        if (!NamesMatch(w, r)) return NameMismatch(w, r);
        if (w.size != r.size) {
          return Error(fmt::format("fixed {} has size {} in the writer, {} in the reader",
                                   r.full_name, w.size, r.size));
        }
        return v;
      case AvroType::kArray: {
        AvroArray out;
        const auto& items = v.get<AvroArray>().items;
        out.items.reserve(items.size());
        const size_t mark = path_.size();
        for (size_t i = 0; i < items.size(); ++i) {
          path_ += fmt::format("[{}]", i);
          WEIR_ASSIGN_OR_RETURN(AvroValue item, Resolve(*w.items, *r.items, items[i]));
          out.items.push_back(std::move(item));
          path_.resize(mark);
        }
        return AvroValue(std::move(out));
      }
      case AvroType::kMap: {
        AvroMap out;
        const auto& entries = v.get<AvroMap>().entries;
        out.entries.reserve(entries.size());
        const size_t mark = path_.size();
        for (const auto& [key, value] : entries) {
          path_ += fmt::format("[\"{}\"]", key);
          WEIR_ASSIGN_OR_RETURN(AvroValue item, Resolve(*w.items, *r.items, value));
          out.entries.emplace_back(key, std::move(item));
          path_.resize(mark);
        }
        return AvroValue(std::move(out));
      }
      default:
        return v;  // same primitive type
    }
  }

 private:
  Status Error(std::string_view what) const {
    return Status::InvalidArgument(fmt::format("avro resolution: at {}: {}", path_, what));
  }

  Status NameMismatch(const AvroNode& w, const AvroNode& r) const {
    return Error(fmt::format("writer's {} does not match reader's {} (names differ, no alias)",
                             avro_internal::Describe(w), avro_internal::Describe(r)));
  }

  Result<AvroValue> Promote(const AvroNode& w, const AvroNode& r, const AvroValue& v) {
    if (!Promotable(w.type, r.type)) {
      return Error(fmt::format("writer's {} cannot be read as {}", avro_internal::Describe(w),
                               avro_internal::Describe(r)));
    }
    double d = 0;
    switch (w.type) {
      case AvroType::kInt:
        if (r.type == AvroType::kLong) return AvroValue(int64_t{v.get<int32_t>()});
        d = v.get<int32_t>();
        break;
      case AvroType::kLong:
        d = static_cast<double>(v.get<int64_t>());
        break;
      case AvroType::kFloat:
        d = v.get<float>();
        break;
      case AvroType::kString:
        return AvroValue(AvroBytes{v.get<std::string>()});
      case AvroType::kBytes:
        return AvroValue(v.get<AvroBytes>().data);
      default:
        break;
    }
    if (r.type == AvroType::kFloat) return AvroValue(static_cast<float>(d));
    return AvroValue(d);
  }

  Result<AvroValue> ResolveRecord(const AvroNode& w, const AvroNode& r, const AvroValue& v) {
    if (!NamesMatch(w, r)) return NameMismatch(w, r);
    const AvroRecord& in = v.get<AvroRecord>();
    AvroRecord out;
    out.fields.reserve(r.fields.size());
    const size_t mark = path_.size();
    for (const AvroField& rf : r.fields) {
      path_ += "." + rf.name;
      int wi = w.FieldIndex(rf.name);
      for (size_t a = 0; a < rf.aliases.size() && wi < 0; ++a) wi = w.FieldIndex(rf.aliases[a]);
      if (wi >= 0) {
        const AvroField& wf = w.fields[static_cast<size_t>(wi)];
        const AvroValue* wv = in.Find(wf.name);
        if (wv == nullptr) return Error("the writer's value lacks this field");
        WEIR_ASSIGN_OR_RETURN(AvroValue rv, Resolve(*wf.type, *rf.type, *wv));
        out.fields.emplace_back(rf.name, std::move(rv));
      } else if (rf.default_value != nullptr) {
        out.fields.emplace_back(rf.name, *rf.default_value);
      } else {
        return Error(fmt::format("the writer's {} lacks the field and the reader gives no default",
                                 w.full_name));
      }
      path_.resize(mark);
    }
    return AvroValue(std::move(out));
  }

  std::string path_;
};

// Walks a writer and a reader schema together and collects every place where
// some writer datum could not be read.
class CompatibilityChecker {
 public:
  void Check(const AvroNode& w, const AvroNode& r, const std::string& path) {
    // Recursive types: a pair already under examination is assumed fine.
    for (const auto& [pw, pr] : visiting_) {
      if (pw == &w && pr == &r) return;
    }
    visiting_.emplace_back(&w, &r);
    CheckPair(w, r, path);
    visiting_.pop_back();
  }

  const std::vector<avro_internal::ReadabilityProblem>& problems() const { return problems_; }

 private:
  void CheckPair(const AvroNode& w, const AvroNode& r, const std::string& path) {
    if (w.type == AvroType::kUnion) {
      for (const AvroNode* b : w.branches) Check(*b, r, path);
      return;
    }
    if (r.type == AvroType::kUnion) {
      for (const AvroNode* b : r.branches) {
        if (ExactMatch(w, *b)) return Check(w, *b, path);
      }
      for (const AvroNode* b : r.branches) {
        if (Promotable(w.type, b->type)) return;
      }
      return Add("missing_union_branch", path,
                 fmt::format("the reader's union has no branch for the writer's {}",
                             avro_internal::Describe(w)));
    }
    if (w.type != r.type) {
      if (!Promotable(w.type, r.type)) {
        Add("type_mismatch", path,
            fmt::format("writer's {} cannot be read as {}", avro_internal::Describe(w),
                        avro_internal::Describe(r)));
      }
      return;
    }
    switch (r.type) {
      case AvroType::kRecord: {
        if (!NamesMatch(w, r)) return NameMismatch(w, r, path);
        for (const AvroField& rf : r.fields) {
          const std::string field_path = path + "." + rf.name;
          int wi = w.FieldIndex(rf.name);
          for (size_t a = 0; a < rf.aliases.size() && wi < 0; ++a) {
            wi = w.FieldIndex(rf.aliases[a]);
          }
          if (wi >= 0) {
            Check(*w.fields[static_cast<size_t>(wi)].type, *rf.type, field_path);
          } else if (rf.default_value == nullptr) {
            Add("reader_field_missing_default", field_path,
                fmt::format("the writer's {} lacks the field and the reader gives no "
                            "default",
                            w.full_name));
          }
        }
        return;
      }
      case AvroType::kEnum:
        if (!NamesMatch(w, r)) return NameMismatch(w, r, path);
        if (r.enum_default) return;
        for (const std::string& symbol : w.symbols) {
          if (r.SymbolIndex(symbol) < 0) {
            Add("missing_enum_symbol", path,
                fmt::format("symbol \"{}\" is not in the reader's enum {} (no default)", symbol,
                            r.full_name));
          }
        }
        return;
      case AvroType::kFixed:
        if (!NamesMatch(w, r)) return NameMismatch(w, r, path);
        if (w.size != r.size) {
          Add("fixed_size_mismatch", path,
              fmt::format("fixed {} has size {} in the writer, {} in the reader", r.full_name,
                          w.size, r.size));
        }
        return;
      case AvroType::kArray:
        return Check(*w.items, *r.items, path + "[]");
      case AvroType::kMap:
        return Check(*w.items, *r.items, path + "{}");
      default:
        return;
    }
  }

  void NameMismatch(const AvroNode& w, const AvroNode& r, const std::string& path) {
    Add("name_mismatch", path,
        fmt::format("writer's {} does not match reader's {} (names differ, no alias)",
                    avro_internal::Describe(w), avro_internal::Describe(r)));
  }

  void Add(std::string_view kind, const std::string& path, std::string what) {
    problems_.push_back({std::string(kind), path, std::move(what)});
  }

  std::vector<std::pair<const AvroNode*, const AvroNode*>> visiting_;
  std::vector<avro_internal::ReadabilityProblem> problems_;
};

}  // namespace

namespace avro_internal {

std::vector<ReadabilityProblem> FindReadabilityProblems(const AvroSchema& writer,
                                                        const AvroSchema& reader) {
  CompatibilityChecker checker;
  checker.Check(writer.root(), reader.root(), PathRoot(reader.root()));
  return checker.problems();
}

}  // namespace avro_internal

Status CheckReadable(const AvroSchema& writer, const AvroSchema& reader) {
  const std::vector<avro_internal::ReadabilityProblem> problems =
      avro_internal::FindReadabilityProblems(writer, reader);
  if (problems.empty()) return Status::Ok();
  std::string message = "avro: data written with the writer schema cannot always be read: ";
  for (size_t i = 0; i < problems.size(); ++i) {
    if (i > 0) message += "; ";
    message += fmt::format("{}: {}", problems[i].path, problems[i].message);
  }
  return Status::InvalidArgument(std::move(message));
}

Result<AvroValue> ResolveValue(const AvroSchema& writer, const AvroSchema& reader,
                               const AvroValue& value) {
  Resolver resolver(avro_internal::PathRoot(reader.root()));
  return resolver.Resolve(writer.root(), reader.root(), value);
}

Result<AvroValue> DecodeResolved(const AvroSchema& writer, const AvroSchema& reader,
                                 std::string_view bytes, const AvroDecodeOptions& options) {
  WEIR_ASSIGN_OR_RETURN(AvroValue v, DecodeBinary(writer, bytes, options));
  return ResolveValue(writer, reader, v);
}

}  // namespace weir::schema
