#include "broker/messages.h"

namespace weir::broker {

const ApiRange* FindApi(int16_t key) {
  for (const ApiRange& a : kSupportedApis) {
    if (static_cast<int16_t>(a.key) == key) return &a;
  }
  return nullptr;
}

}  // namespace weir::broker
