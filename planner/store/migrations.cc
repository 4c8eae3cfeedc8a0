#include "planner/store/migrations.h"

namespace galvatron::store {
namespace {

// Append-only. Table names must match TableName() in store.cc.
//
// Every table holds versioned rows of one resource: (key, version) is the
// primary key, id is a unique handle ("hw-a100-3"), tag is a secondary
// filter (e.g. the cluster of a compute profile), payload is the serialised
// protobuf message.
constexpr Migration kMigrations[] = {
    {"v1: create the models, hardware_profiles, compute_profiles and plans "
     "tables",
     R"sql(
CREATE TABLE models (
  key TEXT NOT NULL,
  version INTEGER NOT NULL,
  id TEXT NOT NULL UNIQUE,
  tag TEXT NOT NULL DEFAULT '',
  created_us INTEGER NOT NULL,
  payload BLOB NOT NULL,
  PRIMARY KEY (key, version)
);
CREATE INDEX models_tag ON models (tag);

CREATE TABLE hardware_profiles (
  key TEXT NOT NULL,
  version INTEGER NOT NULL,
  id TEXT NOT NULL UNIQUE,
  tag TEXT NOT NULL DEFAULT '',
  created_us INTEGER NOT NULL,
  payload BLOB NOT NULL,
  PRIMARY KEY (key, version)
);
CREATE INDEX hardware_profiles_tag ON hardware_profiles (tag);

CREATE TABLE compute_profiles (
  key TEXT NOT NULL,
  version INTEGER NOT NULL,
  id TEXT NOT NULL UNIQUE,
  tag TEXT NOT NULL DEFAULT '',
  created_us INTEGER NOT NULL,
  payload BLOB NOT NULL,
  PRIMARY KEY (key, version)
);
CREATE INDEX compute_profiles_tag ON compute_profiles (tag);

CREATE TABLE plans (
  key TEXT NOT NULL,
  version INTEGER NOT NULL,
  id TEXT NOT NULL UNIQUE,
  tag TEXT NOT NULL DEFAULT '',
  created_us INTEGER NOT NULL,
  payload BLOB NOT NULL,
  PRIMARY KEY (key, version)
);
CREATE INDEX plans_tag ON plans (tag);
)sql"},
    {"v2: create the nodes table",
     R"sql(
CREATE TABLE nodes (
  key TEXT NOT NULL,
  version INTEGER NOT NULL,
  id TEXT NOT NULL UNIQUE,
  tag TEXT NOT NULL DEFAULT '',
  created_us INTEGER NOT NULL,
  payload BLOB NOT NULL,
  PRIMARY KEY (key, version)
);
CREATE INDEX nodes_tag ON nodes (tag);
)sql"},
    {"v3: create the tasks table",
     R"sql(
CREATE TABLE tasks (
  key TEXT NOT NULL,
  version INTEGER NOT NULL,
  id TEXT NOT NULL UNIQUE,
  tag TEXT NOT NULL DEFAULT '',
  created_us INTEGER NOT NULL,
  payload BLOB NOT NULL,
  PRIMARY KEY (key, version)
);
CREATE INDEX tasks_tag ON tasks (tag);
)sql"},
    {"v4: create the jobs and job_metrics tables",
     R"sql(
CREATE TABLE jobs (
  key TEXT NOT NULL,
  version INTEGER NOT NULL,
  id TEXT NOT NULL UNIQUE,
  tag TEXT NOT NULL DEFAULT '',
  created_us INTEGER NOT NULL,
  payload BLOB NOT NULL,
  PRIMARY KEY (key, version)
);
CREATE INDEX jobs_tag ON jobs (tag);

CREATE TABLE job_metrics (
  key TEXT NOT NULL,
  version INTEGER NOT NULL,
  id TEXT NOT NULL UNIQUE,
  tag TEXT NOT NULL DEFAULT '',
  created_us INTEGER NOT NULL,
  payload BLOB NOT NULL,
  PRIMARY KEY (key, version)
);
CREATE INDEX job_metrics_tag ON job_metrics (tag);
)sql"},
    {"v5: create the calibrations table",
     R"sql(
CREATE TABLE calibrations (
  key TEXT NOT NULL,
  version INTEGER NOT NULL,
  id TEXT NOT NULL UNIQUE,
  tag TEXT NOT NULL DEFAULT '',
  created_us INTEGER NOT NULL,
  payload BLOB NOT NULL,
  PRIMARY KEY (key, version)
);
CREATE INDEX calibrations_tag ON calibrations (tag);
)sql"},
};

}  // namespace

absl::Span<const Migration> Migrations() { return kMigrations; }

}  // namespace galvatron::store
