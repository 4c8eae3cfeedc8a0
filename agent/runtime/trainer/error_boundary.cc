#include "agent/runtime/trainer/error_boundary.h"

#include <c10/util/Exception.h>
#include <gloo/common/error.h>

#include <exception>
#include <new>

#include "absl/strings/str_cat.h"

namespace galvatron::runtime {

absl::Status RunGuarded(const std::string& where, const std::function<absl::Status()>& body) {
  try {
    const absl::Status status = body();
    if (status.ok()) return status;
    return absl::Status(status.code(), absl::StrCat(where, ": ", status.message()));
  } catch (const ::gloo::IoException& e) {
    return absl::UnavailableError(absl::StrCat(where, ": communication failed: ", e.what()));
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(where, ": ", e.what_without_backtrace()));
  } catch (const std::bad_alloc& e) {
    return absl::ResourceExhaustedError(absl::StrCat(where, ": out of memory (", e.what(), ")"));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(where, ": ", e.what()));
  } catch (...) {
    return absl::InternalError(absl::StrCat(where, ": an exception of unknown type"));
  }
}

}  // namespace galvatron::runtime
