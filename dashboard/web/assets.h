// The files the dashboard serves to browsers (dashboard/web/assets/ and
// Chart.js), compiled into the binary at build time (embed_assets.cmake) so
// that it needs nothing from the network or the disk at run time.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace galvatron::dashboard {

struct EmbeddedAsset {
  const char* name;          // served as /assets/<name>
  const char* content_type;  // from the file's extension
  const unsigned char* data;
  size_t size;
};

// Every embedded file, in no particular order.
const std::vector<EmbeddedAsset>& EmbeddedAssets();

// The asset called `name`, or null.
const EmbeddedAsset* FindAsset(const std::string& name);

}  // namespace galvatron::dashboard
