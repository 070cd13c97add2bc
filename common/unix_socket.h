#pragma once
// A client connection to a Unix stream socket by path, for probes: is an agent listening, and
// who is it (SO_PEERCRED on the returned descriptor).

#include <string>

namespace bim {

// A connected, close-on-exec descriptor, or -1 (errno says why; ENAMETOOLONG for a path that
// does not fit sockaddr_un). The caller closes it.
int ConnectUnixSocket(const std::string& path);
// True when something accepts connections at path.
bool AcceptsConnections(const std::string& path);

}  // namespace bim
