#include "agent/runtime/comm/gloo_peers.h"

#include <gloo/context.h>

#include <algorithm>
#include <exception>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace galvatron::runtime {
namespace {

std::string AddressKey(const std::string& address) {
  return absl::StrCat("galvatron/peers/", address);
}

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

std::vector<std::string> GlooProcessGroup::OwnAddresses() const {
  std::vector<std::string> addresses;
  for (const std::shared_ptr<::gloo::Context>& context : contexts_) {
    for (int i = 0; i < context->size; ++i) {
      if (i == context->rank) continue;
      const std::unique_ptr<::gloo::transport::Pair>& pair = context->getPair(i);
      if (pair != nullptr) addresses.push_back(pair->address().str());
    }
  }
  return addresses;
}

absl::Status PublishGlooPeers(c10d::Store& store, int rank, const GlooProcessGroup& group) {
  const std::string text = std::to_string(rank);
  try {
    for (const std::string& address : group.OwnAddresses()) {
      store.set(AddressKey(address), std::vector<uint8_t>(text.begin(), text.end()));
    }
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(
        "rank ", rank, ": cannot record its Gloo addresses in the store: ", FirstLine(e.what())));
  }
  return absl::OkStatus();
}

std::string NameGlooPeers(c10d::Store& store, const std::string& text, std::vector<int>* ranks) {
  std::string out;
  size_t at = 0;
  for (;;) {
    // An address is "[host]:digits"; Gloo's messages also start with
    // "[file:line]", so the host is what follows the last '[' before "]:".
    const size_t close = text.find("]:", at);
    if (close == std::string::npos) break;
    size_t end = close + 2;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    const size_t open = text.rfind('[', close);
    const size_t segment = at;
    out.append(text, at, end - at);
    at = end;
    if (end == close + 2 || open == std::string::npos || open < segment) continue;
    const std::string key = AddressKey(text.substr(open, end - open));
    if (!store.check({key})) continue;
    const std::vector<uint8_t> value = store.get(key);
    int rank = -1;
    if (!absl::SimpleAtoi(std::string(value.begin(), value.end()), &rank)) continue;
    absl::StrAppend(&out, " (rank ", rank, ")");
    if (ranks != nullptr && std::find(ranks->begin(), ranks->end(), rank) == ranks->end()) {
      ranks->push_back(rank);
    }
  }
  out.append(text, at, std::string::npos);
  return out;
}

}  // namespace galvatron::runtime
