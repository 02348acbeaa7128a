#pragma once
// Expected outcomes of a stage call. Real failures carry a message beside an Error status;
// nothing in the media core throws across a thread boundary.
namespace vigil {

enum class Status {
  Ok,       // a packet/frame was produced
  Again,    // nothing yet: feed more input
  Timeout,  // the source did not answer within its deadline
  Eos,      // end of stream (file end, server closed the session)
  Stopped,  // stop was requested by the owner
  Error,    // a failure; see the accompanying message
};

const char* statusName(Status s);

}  // namespace vigil
