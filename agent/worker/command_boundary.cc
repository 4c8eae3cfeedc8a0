#include "agent/worker/command_boundary.h"

#include <c10/util/Exception.h>

#include <exception>

#include "absl/strings/str_cat.h"

namespace galvatron::worker {

absl::Status RunCatching(const std::string& where, const std::function<absl::Status()>& body) {
  try {
    return body();
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(where, ": ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(where, ": ", e.what()));
  } catch (...) {
    return absl::InternalError(absl::StrCat(where, ": an exception of unknown type"));
  }
}

}  // namespace galvatron::worker
