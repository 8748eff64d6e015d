// A request to stop, set by a signal handler and checked between ops, so that a long step ends in moments.
#pragma once

#include <exception>

namespace qkv {

// NOTE [stop between ops]: a training step of a big model can take minutes, and a signal that waits for the
// step to end is no way to stop it. The trainer's handler calls request_stop(); the autograd engine (between
// backward nodes), every encoder and decoder layer (before its forward) and attention (between blocks of
// queries) call check_stop(), which throws Stopped. Nothing is checked inside an optimizer update, so an
// update is applied whole or not at all and the weights stay those of the last completed step.
class Stopped : public std::exception {
 public:
  const char* what() const noexcept override { return "stopped by a signal"; }
};

void request_stop();    // async-signal-safe: one store to a lock-free atomic
void clear_stop();      // no request pending
bool stop_requested();  // for loops inside a parallel region, which must not throw: they skip their work

// Throws Stopped when a stop was requested. Call it outside parallel regions only.
void check_stop();

}  // namespace qkv
