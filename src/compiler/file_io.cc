// Whole-file reads and atomic writes. The write goes to a temporary file in the
// destination's folder (same file system, so rename is atomic), is fsynced and
// then renamed over the target; on any failure the temporary file is removed,
// so a crash or a full disk never leaves a half-written engine behind.
#include "compiler/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "ingot/compiler.h"

namespace ingot {

namespace {
std::string errno_text() { return std::strerror(errno); }

std::string dir_name(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}
}  // namespace

std::string path_base_name(const std::string& path) {
  size_t slash = path.find_last_of("/\\");
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

Result<std::vector<uint8_t>> read_file_bytes(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return not_found("file '" + path + "' does not exist");
    return io_error("cannot open '" + path + "': " + errno_text());
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return io_error("'" + path + "' is not a regular file");
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(st.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why = n < 0 ? errno_text() : "file shrank while reading";
      ::close(fd);
      return io_error("cannot read '" + path + "': " + why);
    }
    done += static_cast<size_t>(n);
  }
  ::close(fd);
  return bytes;
}

Status write_file_atomic(const std::string& path, const void* data, size_t size) {
  if (path.empty()) return invalid_argument("no output path given");
  std::string tmp = dir_name(path) + "/." + path_base_name(path) + ".tmp.XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return io_error("cannot create a temporary file next to '" + path + "': " + errno_text());
  auto fail = [&](const std::string& what) {
    std::string msg = what + " '" + path + "': " + errno_text();
    ::close(fd);
    ::unlink(tmp.c_str());
    return io_error(msg);
  };
  const uint8_t* p = static_cast<const uint8_t*>(data);
  size_t done = 0;
  while (done < size) {
    ssize_t n = ::write(fd, p + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("cannot write");
    done += static_cast<size_t>(n);
  }
  // mkstemp creates 0600; an engine is an ordinary output file.
  ::fchmod(fd, 0644);
  if (::fsync(fd) != 0) return fail("cannot flush");
  if (::close(fd) != 0) {
    std::string msg = "cannot close '" + path + "': " + errno_text();
    ::unlink(tmp.c_str());
    return io_error(msg);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    std::string msg = "cannot move the new file into place at '" + path + "': " + errno_text();
    ::unlink(tmp.c_str());
    return io_error(msg);
  }
  // Persist the rename itself; failure here does not undo a complete file.
  int dir = ::open(dir_name(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return Status::ok_status();
}

}  // namespace ingot
