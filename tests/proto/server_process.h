// Starts `mpirun -np P groupshard serve ... --listen 127.0.0.1:0` as a child
// process for end-to-end tests, reads the address it prints, and stops it.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/test_util.h"

namespace gs::testing {

class ServerProcess {
 public:
  ServerProcess() = default;
  ServerProcess(const ServerProcess&) = delete;
  ~ServerProcess() {
    if (pid_ > 0) Terminate(std::chrono::seconds(15));
  }

  // Returns false (with the log in *why) when the server did not print its
  // address within `timeout`.
  bool Start(const std::string& model, int np, const std::vector<std::string>& extra,
             std::string* why, std::chrono::seconds timeout = std::chrono::seconds(120)) {
    dir_ = TempDir();
    out_path_ = dir_ + "/stdout.txt";
    err_path_ = dir_ + "/stderr.txt";
    std::vector<std::string> args = {"mpirun", "--allow-run-as-root", "--oversubscribe",
                                     "--bind-to", "none", "--mca", "btl", "self,vader,tcp", "-np",
                                     std::to_string(np), GroupshardBin(), "serve", "--model", model,
                                     "--listen", "127.0.0.1:0",
                                     // CPU numerics and timings even where GPUs are present.
                                     "--device", "cpu"};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      if (!freopen(out_path_.c_str(), "w", stdout) || !freopen(err_path_.c_str(), "w", stderr)) {
        _exit(127);
      }
      // Idle workers wait in a broadcast; let them yield the (shared) cores.
      setenv("OMPI_MCA_mpi_yield_when_idle", "1", 1);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execvp("mpirun", argv.data());
      _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string out = ReadFile(out_path_);
      const std::string tag = "groupshard serving on ";
      const size_t at = out.find(tag);
      if (at != std::string::npos && out.find('\n', at) != std::string::npos) {
        address_ = out.substr(at + tag.size(), out.find('\n', at) - at - tag.size());
        return true;
      }
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    *why = "server did not start; stdout:\n" + ReadFile(out_path_) + "\nstderr:\n" + Log();
    Kill();
    return false;
  }

  const std::string& address() const { return address_; }
  std::string Log() const { return ReadFile(err_path_); }
  std::string Stdout() const { return ReadFile(out_path_); }

  // Asks the job to drain with SIGUSR1 to mpirun (which forwards it to every
  // rank; its own SIGTERM would abort the job); returns mpirun's exit code,
  // or -1 if it did not exit within `timeout` (then it is killed).
  int Terminate(std::chrono::seconds timeout) {
    if (pid_ <= 0) return -1;
    kill(pid_, SIGUSR1);
    return Wait(timeout);
  }
  // SIGTERM to rank 0 itself (its pid is in the log): the same drain.
  int TerminateLeader(std::chrono::seconds timeout) {
    const std::string log = Log();
    const size_t at = log.find(", pid ");
    if (pid_ <= 0 || at == std::string::npos) return -1;
    kill(static_cast<pid_t>(std::stoi(log.substr(at + 6))), SIGTERM);
    return Wait(timeout);
  }
  int Wait(std::chrono::seconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Kill();
    return -1;
  }
  void Kill() {
    if (pid_ <= 0) return;
    kill(-pid_, SIGKILL);  // the process group: mpirun and its ranks
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  static std::string ReadFile(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }

  pid_t pid_ = -1;
  std::string dir_, out_path_, err_path_, address_;
};

}  // namespace gs::testing
