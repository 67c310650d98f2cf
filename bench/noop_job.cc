// The lightest possible job: exits 0 at once, without even the C library's start-up (which
// asks the CPU about its caches with `cpuid`, slow in a VM). Starting it costs an exec
// and nothing else, so that federation_bench's figure is the gateways' work
// (`--job-command build/release/bench/noop_job`). Linked with -nostdlib -static.
#if defined(__x86_64__)
extern "C" [[noreturn]] void _start() {
  asm volatile("mov $60, %eax\n xor %edi, %edi\n syscall");  // exit(0)
  __builtin_unreachable();
}
#elif defined(__aarch64__)
extern "C" [[noreturn]] void _start() {
  asm volatile("mov x8, #93\n mov x0, #0\n svc #0");  // exit(0)
  __builtin_unreachable();
}
#else
#error "noop_job: add the exit system call of this architecture"
#endif
