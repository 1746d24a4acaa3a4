// Opens N keep-alive connections to 127.0.0.1:PORT, makes one GET on each, reads the answer, and
// then holds them all open and idle until its standard input closes. Prints "ready N" once every
// connection has had its answer. The benchmark uses it to measure what an idle connection costs.
#include <arpa/inet.h>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <netinet/in.h>
#include <poll.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: hold_connections PORT COUNT PATH\n");
    return 2;
  }
  int port = std::atoi(argv[1]);
  int count = std::atoi(argv[2]);
  std::string request = std::string("GET ") + argv[3] + " HTTP/1.1\r\nHost: bench\r\n\r\n";
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  std::vector<int> sockets;
  for (int i = 0; i < count; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      std::perror("connect");
      return 1;
    }
    if (send(fd, request.data(), request.size(), 0) != static_cast<ssize_t>(request.size())) {
      std::perror("send");
      return 1;
    }
    sockets.push_back(fd);
    // Read answers as we go, so that neither side's buffers fill up.
    if (sockets.size() % 100 == 0 || i == count - 1) {
      for (std::size_t j =
               sockets.size() - (sockets.size() % 100 == 0 ? 100 : sockets.size() % 100);
           j < sockets.size(); ++j) {
        char buffer[65536];
        // One read takes the whole small response; the benchmark's file is far below 64 KiB.
        pollfd ready{sockets[j], POLLIN, 0};
        if (poll(&ready, 1, 10000) != 1 || recv(sockets[j], buffer, sizeof buffer, 0) <= 0) {
          std::fprintf(stderr, "no answer on connection %zu\n", j);
          return 1;
        }
      }
    }
  }
  std::printf("ready %d\n", count);
  std::fflush(stdout);
  char byte;
  while (read(STDIN_FILENO, &byte, 1) > 0) {
  }
  for (int fd : sockets)
    close(fd);
  return 0;
}
