// Internal to the CLI: fetching every page of a List RPC.
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "common/status_macros.h"
#include "google/protobuf/repeated_ptr_field.h"

namespace galvatron::cli {

// Every list command asks for pages this large.
inline constexpr int kListPageSize = 1000;

// Fetches every page of a List RPC: `call(request, &page)` makes one call
// (with its own deadline) and returns its status; the repeated field `items`
// of each page is moved into `all`. Stops at the first page without a
// next_page_token.
template <typename Request, typename Response, typename Item, typename Call>
absl::Status FetchAllPages(Request request, const Call& call,
                           google::protobuf::RepeatedPtrField<Item>* (Response::*items)(),
                           Response* all) {
  request.set_page_size(kListPageSize);
  do {
    Response page;
    RETURN_IF_ERROR(call(request, &page));
    for (Item& item : *(page.*items)()) *((all->*items)()->Add()) = std::move(item);
    request.set_page_token(page.next_page_token());
  } while (!request.page_token().empty());
  return absl::OkStatus();
}

}  // namespace galvatron::cli
