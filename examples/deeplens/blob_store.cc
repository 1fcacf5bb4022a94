#include "blob_store.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/uuid.h"

namespace deeplens {
namespace {

using weir::Status;

Status Errno(const std::string& what) {
  return Status::Io(fmt::format("{}: {}", what, std::strerror(errno)));
}

}  // namespace

std::string Sha256Hex(std::string_view bytes) {
  // OpenSSL's libcrypto (Debian's libssl-dev, which cpp-httplib already
  // needs): SHA-256 in one call.
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr) != 1) {
    return {};  // only when libcrypto cannot allocate; callers treat "" as a failure
  }
  std::string out;
  out.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

BlobStore::BlobStore(std::string root) : root_(std::move(root)) {}

weir::Result<std::string> BlobStore::Put(std::string_view bytes) const {
  const std::string digest = Sha256Hex(bytes);
  if (digest.empty()) return Status::Internal("blob store: SHA-256 failed (libcrypto)");
  const std::filesystem::path dir = std::filesystem::path(root_) / digest.substr(0, 2);
  const std::filesystem::path path = dir / digest;
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) return path.string();
  std::filesystem::create_directories(dir, ec);
  if (ec) return Status::Io(fmt::format("creating {}: {}", dir.string(), ec.message()));
  const std::string tmp = (dir / (".tmp-" + weir::NewUuidV4())).string();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return Errno("creating " + tmp);
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      Status s = Errno("writing " + tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return s;
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    Status s = Errno("syncing " + tmp);
    ::unlink(tmp.c_str());
    return s;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    Status s = Errno(fmt::format("renaming {} to {}", tmp, path.string()));
    ::unlink(tmp.c_str());
    return s;
  }
  // The new name must survive a crash too.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return path.string();
}

weir::Result<std::string> BlobStore::Read(const std::string& path, uint64_t max_bytes) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory) {
      return Status::NotFound(fmt::format("blob {} does not exist", path));
    }
    return Status::Io(fmt::format("blob {}: {}", path, ec.message()));
  }
  if (size > max_bytes) {
    return Status::InvalidArgument(
        fmt::format("blob {} has {} bytes, more than the limit of {}", path, size, max_bytes));
  }
  std::ifstream in(path, std::ios::binary);
  std::string bytes(static_cast<size_t>(size), '\0');
  if (!in.read(bytes.data(), static_cast<std::streamsize>(size))) {
    return Status::Io(fmt::format("reading blob {}", path));
  }
  return bytes;
}

}  // namespace deeplens
