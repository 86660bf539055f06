// `kashim status` output: a table that fits 100 columns, or JSON for scripts.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "config.hpp"
#include "inspection.hpp"

namespace kashim::inspect {

// The configuration that decides for `process`: its program's, else the command's.
const Config& config_of(const ProcessView& process, const Config& command);
// `program curl not in scope (matches no item of "nginx")`, for an out-of-scope config.
std::string scope_text(const Config& config);

// What the configuration would do to one socket. For an inactive (disabled) configuration,
// nothing: kNotWanted.
Decision decision_for(const Config& config, const SocketView& socket);
// The KASHIM column: "change", "ok", "skip" (also: the program is out of scope), "own", "?",
// or "-" when the configuration is disabled.
const char* kashim_label(const Config& config, const Decision& decision);

// `config` is the command's; each process's sockets are decided by config_of(process, config).
void print_table(const std::vector<ProcessView>& processes, const Config& config, std::FILE* out);
void print_json(const std::vector<ProcessView>& processes, const Config& config, std::FILE* out);

// The lines printed under the table: one per process whose view is incomplete or empty, or
// that its configuration leaves out, and one per value shown as `?` for a reason of its own.
std::vector<std::string> footnotes(const std::vector<ProcessView>& processes, const Config& config);

}  // namespace kashim::inspect
