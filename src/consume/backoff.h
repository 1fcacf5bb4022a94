// consume/backoff.h — the delay before a retry, from a group's retry policy.
#pragma once

#include <chrono>
#include <random>

#include "weir/topology.h"

namespace weir::consume {

// The delay before retry number |retry| (1 = the first retry) under
// |policy|: initial_backoff for each of the first policy.immediate_attempts
// retries, then growing by multiplier from there — initial_backoff ×
// multiplier^k, k = 0, 1, ... with no immediate retries, k = 1, 2, ... after
// them — capped at max_backoff when that is set, each spread uniformly by
// ±jitter. Never negative.
std::chrono::milliseconds RetryDelay(const RetryPolicy& policy, int retry, std::mt19937_64& rng);

// The same without jitter: the middle of the range RetryDelay() draws from.
std::chrono::milliseconds NominalRetryDelay(const RetryPolicy& policy, int retry);

// True when |policy| retries failures of class |c|.
bool Retries(const RetryPolicy& policy, ErrorClass c);

}  // namespace weir::consume
