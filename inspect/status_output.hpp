// `kashim status` output: a table that fits 100 columns, or JSON for scripts.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "config.hpp"
#include "inspection.hpp"

namespace kashim::inspect {

// What the configuration would do to one socket. For an inactive (disabled) configuration,
// nothing: kNotWanted.
Decision decision_for(const Config& config, const SocketView& socket);
// The KASHIM column: "change", "ok", "skip", "own", "?", or "-" when the configuration is
// disabled.
const char* kashim_label(const Config& config, const Decision& decision);

void print_table(const std::vector<ProcessView>& processes, const Config& config, std::FILE* out);
void print_json(const std::vector<ProcessView>& processes, const Config& config, std::FILE* out);

// The lines printed under the table: one per process whose view is incomplete or empty.
std::vector<std::string> footnotes(const std::vector<ProcessView>& processes);

}  // namespace kashim::inspect
