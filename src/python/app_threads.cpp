#include "python/app_threads.hpp"

#include <csignal>
#include <pthread.h>

#include "python/py_ref.hpp"

namespace kiln::python {

app_threads::app_threads(std::size_t count, work run, farewell leave)
    : run_(std::move(run)), leave_(std::move(leave)) {
  threads_.reserve(count);
  for (std::size_t number = 1; number <= count; ++number) {
    {
      std::lock_guard lock(mutex_);
      ++running_;
    }
    try {
      threads_.emplace_back([this, number] { main(number); });
    } catch (...) {
      std::lock_guard lock(mutex_);
      --running_;
      throw;
    }
  }
}

app_threads::~app_threads() {
  stop(std::chrono::milliseconds(0));
  // A thread still in the app (hung) cannot be joined: the process ends around it.
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.detach();
  }
}

void app_threads::main(std::size_t number) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, nullptr);
  std::string name = "kiln-app-" + std::to_string(number);
  pthread_setname_np(pthread_self(), name.c_str());

  PyGILState_STATE gil = PyGILState_Ensure();
  {
    std::lock_guard lock(mutex_);
    names_[PyThread_get_thread_ident()] = name;
  }
  PyThreadState* state = PyEval_SaveThread();
  while (true) {
    exchange* job = nullptr;
    {
      std::unique_lock lock(mutex_);
      jobs_ready_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (stopping_) break;
      job = jobs_.front();
      jobs_.pop_front();
    }
    PyEval_RestoreThread(state);
    // While more requests wait, the thread keeps the GIL from one to the next: letting it go
    // and taking it back costs more than a small request. Other threads still get their turn:
    // the interpreter hands the GIL over every switch interval, and at every blocking call.
    while (job != nullptr) {
      run_(*job);
      job = next_waiting();
    }
    state = PyEval_SaveThread();
  }
  PyEval_RestoreThread(state);
  leave_();
  PyGILState_Release(gil);
  // Nothing of Python's from here on: the thread's state is gone, the GIL free.
  std::lock_guard lock(mutex_);
  --running_;
  ended_.notify_all();
}

exchange* app_threads::next_waiting() {
  std::lock_guard lock(mutex_);
  if (stopping_ || jobs_.empty()) return nullptr;
  exchange* job = jobs_.front();
  jobs_.pop_front();
  return job;
}

void app_threads::submit(exchange& job) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(&job);
  }
  jobs_ready_.notify_one();
}

std::size_t app_threads::waiting() const {
  std::lock_guard lock(mutex_);
  return jobs_.size();
}

bool app_threads::stop(std::chrono::milliseconds limit) {
  std::unique_lock lock(mutex_);
  stopping_ = true;
  jobs_ready_.notify_all();
  bool ended = ended_.wait_for(lock, limit, [&] { return running_ == 0; });
  lock.unlock();
  if (ended) {
    for (auto& thread : threads_) {
      if (thread.joinable()) thread.join();
    }
  }
  return ended;
}

std::map<unsigned long, std::string> app_threads::names() const {
  std::lock_guard lock(mutex_);
  return names_;
}

}  // namespace kiln::python
