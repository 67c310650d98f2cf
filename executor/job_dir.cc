#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "core/log.h"
#include "executor/job_executor.h"

namespace edwc::executor {

core::Status MakeDirLikeParent(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec)) return core::Status::Ok();
  const fs::path parent = fs::path(dir).parent_path();
  if (!parent.empty() && !fs::exists(parent, ec)) {
    EDWC_RETURN_IF_ERROR(MakeDirLikeParent(parent.string()));
  }
  if (!fs::create_directory(dir, ec) && ec) {
    return core::IoError("cannot create " + dir + ": " + ec.message());
  }
  struct stat up {};
  if (::stat(parent.c_str(), &up) != 0) return core::Status::Ok();
  if (::chown(dir.c_str(), up.st_uid, up.st_gid) != 0) {
    core::LogWarn("jobs", "cannot give " + dir + " the owner of " + parent.string());
  }
  ::chmod(dir.c_str(), up.st_mode & 07777);
  return core::Status::Ok();
}

}  // namespace edwc::executor
