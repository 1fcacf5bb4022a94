#include "weir/record.h"

#include <string>

namespace weir {

std::string OffsetToString(Offset o) {
  if (o == kOffsetBeginning) return "beginning";
  if (o == kOffsetEnd) return "end";
  if (o == kOffsetStored) return "stored";
  if (o == kOffsetInvalid) return "invalid";
  return std::to_string(o.value());
}

namespace {

// Backing store of an owned Record: strings whose views the Record holds.
struct OwnedStorage {
  std::string topic;
  std::optional<std::string> key;
  std::optional<std::string> value;
  std::vector<Header> headers;
};

void DeleteOwned(void* p) { delete static_cast<OwnedStorage*>(p); }

}  // namespace

Record Record::Owned(std::string topic, Partition partition, Offset offset, Timestamp ts,
                     std::optional<std::string> key, std::optional<std::string> value,
                     std::vector<Header> headers) {
  auto* s =
      new OwnedStorage{std::move(topic), std::move(key), std::move(value), std::move(headers)};
  std::vector<HeaderView> hv;
  hv.reserve(s->headers.size());
  for (const Header& h : s->headers) {
    hv.push_back(
        HeaderView{h.key, h.value ? std::optional<std::string_view>(*h.value) : std::nullopt});
  }
  Record r;
  RecordBuilderAccess::Set(r, s->topic, partition, offset, ts,
                           s->key ? std::optional<std::string_view>(*s->key) : std::nullopt,
                           s->value ? std::optional<std::string_view>(*s->value) : std::nullopt,
                           std::move(hv), s, &DeleteOwned);
  return r;
}

const HeaderView* Record::FindHeader(std::string_view name) const {
  for (const HeaderView& h : headers_) {
    if (h.key == name) return &h;
  }
  return nullptr;
}

Record Record::Clone() const {
  std::vector<Header> hs;
  hs.reserve(headers_.size());
  for (const HeaderView& h : headers_) {
    hs.push_back(Header{std::string(h.key), h.value
                                                ? std::optional<std::string>(std::string(*h.value))
                                                : std::nullopt});
  }
  return Owned(std::string(topic_), partition_, offset_, timestamp_,
               key_ ? std::optional<std::string>(std::string(*key_)) : std::nullopt,
               value_ ? std::optional<std::string>(std::string(*value_)) : std::nullopt,
               std::move(hs));
}

}  // namespace weir
