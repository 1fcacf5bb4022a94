// AvroValue helpers: comparison and the union box.

#include "weir/schema/avro.h"

namespace weir::schema {

bool AvroRecord::operator==(const AvroRecord& other) const { return fields == other.fields; }

const AvroValue* AvroRecord::Find(std::string_view name) const {
  for (const auto& [field_name, value] : fields) {
    if (field_name == name) return &value;
  }
  return nullptr;
}

bool AvroArray::operator==(const AvroArray& other) const { return items == other.items; }

bool AvroMap::operator==(const AvroMap& other) const { return entries == other.entries; }

AvroUnion::AvroUnion(int32_t b, AvroValue v)
    : branch(b), value(std::make_unique<AvroValue>(std::move(v))) {}

AvroUnion::AvroUnion(const AvroUnion& other)
    : branch(other.branch), value(std::make_unique<AvroValue>(*other.value)) {}

AvroUnion& AvroUnion::operator=(const AvroUnion& other) {
  if (this != &other) {
    branch = other.branch;
    value = std::make_unique<AvroValue>(*other.value);
  }
  return *this;
}

AvroUnion::~AvroUnion() = default;

bool AvroUnion::operator==(const AvroUnion& other) const {
  return branch == other.branch && *value == *other.value;
}

}  // namespace weir::schema
