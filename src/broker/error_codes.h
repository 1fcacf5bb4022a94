// broker/error_codes.h — Kafka protocol error codes used by the embedded broker.
//
// Values are the protocol's (see the Kafka protocol guide, "Error Codes").
#pragma once

#include <cstdint>
#include <string_view>

namespace weir::broker {

enum class ErrorCode : int16_t {
  kUnknownServerError = -1,
  kNone = 0,
  kOffsetOutOfRange = 1,
  kCorruptMessage = 2,
  kUnknownTopicOrPartition = 3,
  kInvalidFetchSize = 4,
  kLeaderNotAvailable = 5,
  kNotLeaderOrFollower = 6,
  kRequestTimedOut = 7,
  kMessageTooLarge = 10,
  kCoordinatorLoadInProgress = 14,
  kCoordinatorNotAvailable = 15,
  kNotCoordinator = 16,
  kInvalidTopicException = 17,
  kRecordListTooLarge = 18,
  kIllegalGeneration = 22,
  kInconsistentGroupProtocol = 23,
  kInvalidGroupId = 24,
  kUnknownMemberId = 25,
  kInvalidSessionTimeout = 26,
  kRebalanceInProgress = 27,
  kInvalidCommitOffsetSize = 28,
  kUnsupportedForMessageFormat = 43,
  kTopicAlreadyExists = 36,
  kInvalidPartitions = 37,
  kInvalidReplicationFactor = 38,
  kInvalidReplicaAssignment = 39,
  kInvalidConfig = 40,
  kInvalidRequest = 42,
  kInvalidRequiredAcks = 21,
  kNotEnoughReplicas = 19,
  kTopicDeletionDisabled = 73,
  kPolicyViolation = 44,
  kOutOfOrderSequenceNumber = 45,
  kDuplicateSequenceNumber = 46,
  kInvalidProducerEpoch = 47,
  kInvalidTimestamp = 32,
  kUnsupportedVersion = 35,
  kInvalidRecord = 87,
  kUnknownProducerId = 59,
  kGroupIdNotFound = 69,
  kNonEmptyGroup = 68,
  kMemberIdRequired = 79,
  kGroupMaxSizeReached = 81,
  kFencedInstanceId = 82,
  kTransactionalIdAuthorizationFailed = 53,
  kClusterAuthorizationFailed = 31,
  kUnknownTopicId = 100,
};

inline int16_t Code(ErrorCode e) { return static_cast<int16_t>(e); }

// The protocol's upper-case name, e.g. "UNKNOWN_TOPIC_OR_PARTITION".
std::string_view ErrorName(ErrorCode e);

}  // namespace weir::broker
