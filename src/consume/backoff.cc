#include "consume/backoff.h"

#include <algorithm>
#include <cmath>

namespace weir::consume {

std::chrono::milliseconds NominalRetryDelay(const RetryPolicy& policy, int retry) {
  // The immediate retries wait the fixed backoff ("3 attempts with 100ms
  // delay"); then the delay grows from there.
  if (retry <= policy.immediate_attempts) return policy.initial_backoff;
  const int k = retry - policy.immediate_attempts - 1 + (policy.immediate_attempts > 0 ? 1 : 0);
  double ms = static_cast<double>(policy.initial_backoff.count()) *
              std::pow(std::max(policy.multiplier, 1.0), k);
  if (policy.max_backoff.count() > 0)
    ms = std::min(ms, static_cast<double>(policy.max_backoff.count()));
  // Past ~292 million years a double no longer fits the count; cap far below.
  ms = std::min(ms, 1e15);
  return std::chrono::milliseconds(static_cast<int64_t>(ms));
}

std::chrono::milliseconds RetryDelay(const RetryPolicy& policy, int retry, std::mt19937_64& rng) {
  const std::chrono::milliseconds nominal = NominalRetryDelay(policy, retry);
  if (nominal.count() == 0 || policy.jitter <= 0) return nominal;
  std::uniform_real_distribution<double> spread(-policy.jitter, policy.jitter);
  const double ms = static_cast<double>(nominal.count()) * (1.0 + spread(rng));
  return std::chrono::milliseconds(std::max<int64_t>(0, static_cast<int64_t>(ms)));
}

bool Retries(const RetryPolicy& policy, ErrorClass c) {
  return std::find(policy.retry_on.begin(), policy.retry_on.end(), c) != policy.retry_on.end();
}

}  // namespace weir::consume
