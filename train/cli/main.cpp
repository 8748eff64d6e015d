// The qkv command line: one binary, one subcommand per job, each registered by its own file. Errors become
// one line on stderr and the exit codes of docs/DESIGN.md: 2 for bad usage, config or input; 1 for an
// internal failure.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>

#include "core/archive.h"
#include "core/error.h"
#include "core/isa.h"
#include "core/spelling.h"
#include "train/cli/commands.h"
#include "train/comm.h"

namespace {

using qkv::cli::Context;

// Every subcommand, in the order `qkv --help` lists them. A new subcommand is one line here.
constexpr void (*kCommands[])(CLI::App&, Context&) = {
    qkv::cli::add_train,   qkv::cli::add_sample,    qkv::cli::add_translate, qkv::cli::add_classify,
    qkv::cli::add_eval,    qkv::cli::add_init,      qkv::cli::add_info,      qkv::cli::add_export,
    qkv::cli::add_import,  qkv::cli::add_logits,    qkv::cli::add_step,      qkv::cli::add_tokenizer,
    qkv::cli::add_prepare, qkv::cli::add_attention, qkv::cli::add_plot,      qkv::cli::add_bench,
    qkv::cli::add_demo,
};

// An error ends the process with `code`; in a data-parallel job it ends every rank, since a rank that stops
// alone would leave the others waiting. Ranks other than 0 name themselves.
int failed(qkv::Comm& comm, int code, const char* kind, const char* what) {
  if (comm.size() > 1 && !comm.root())
    std::fprintf(stderr, "qkv: %s (rank %d): %s\n", kind, comm.rank(), what);
  else
    std::fprintf(stderr, "qkv: %s: %s\n", kind, what);
  if (comm.size() > 1) {
    std::fflush(stderr);
    comm.abort(code);
  }
  return code;
}

// A first word that is no command gets a line naming the commands, not CLI11's "A subcommand is required";
// empty when argv is fine (or starts with an option, which CLI11 reports).
std::string command_error(int argc, char** argv, const CLI::App& app) {
  std::vector<std::string> names;
  std::string list;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    names.push_back(sub->get_name());
    list += (list.empty() ? "" : ", ") + sub->get_name();
  }
  if (argc < 2) return "give a command: " + list + " (qkv COMMAND --help says more)";
  std::string first = argv[1];
  if (first.empty() || first[0] == '-' || std::find(names.begin(), names.end(), first) != names.end()) return "";
  // What other tools call these jobs; otherwise a near spelling.
  const std::pair<const char*, const char*> synonyms[] = {
      {"generate", "sample"}, {"evaluate", "eval"}, {"resume", "train --resume"}, {"fit", "train"}};
  std::string guess = qkv::closest(first, names);
  if (qkv::edit_distance(first, guess) > 2) guess.clear();
  for (const auto& [other, ours] : synonyms)
    if (first == other) guess = ours;
  return "'" + first + "' is not a qkv command" + (guess.empty() ? "" : " (did you mean " + guess + "?)") +
         "; the commands are: " + list;
}

// Every option shows its default in --help; an empty list ("[]") says nothing, so it is dropped.
void tidy_defaults(CLI::App& app) {
  for (CLI::Option* o : app.get_options())
    if (o->get_default_str() == "[]") o->default_str("");
  for (CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) tidy_defaults(*sub);
}

int run(int argc, char** argv, qkv::Comm& comm) {
  CLI::App app{"qkv: train transformers on text, on CPUs"};
  app.set_version_flag("--version", std::string("qkv ") + QKV_VERSION);
  app.require_subcommand(1);
  app.option_defaults()->always_capture_default();  // every --help shows what an option is when not given
  Context ctx{comm, {}};
  for (auto add : kCommands) add(app, ctx);
  tidy_defaults(app);
  if (std::string wrong = command_error(argc, argv, app); !wrong.empty())
    return failed(comm, 2, "error", wrong.c_str());
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  try {
    qkv::write_fault_from_env();  // a bad QKV_FAULT is an error now, not at the first checkpoint
    qkv::isa();                   // and a bad QKV_ISA, not inside the first parallel GEMM
    for (auto& [command, action] : ctx.actions)
      if (command->parsed()) return action();
    return 0;
  } catch (const qkv::Error& e) {
    return failed(comm, 2, "error", e.what());
  } catch (const nlohmann::json::exception& e) {
    return failed(comm, 2, "error", e.what());
  } catch (const std::filesystem::filesystem_error& e) {
    return failed(comm, 2, "error", e.what());
  } catch (const std::exception& e) {
    return failed(comm, 1, "internal error", e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  // MPI starts only under an MPI launcher (a QKV_MPI build); otherwise this is one process.
  std::unique_ptr<qkv::Comm> comm = qkv::make_comm(&argc, &argv);
  if (!comm->root() && std::freopen("/dev/null", "w", stdout) == nullptr) return 1;  // rank 0 prints the run
  return run(argc, argv, *comm);
}
