/* Bare-metal start for the Cortex-M tests (qemu-system-arm -M mps2-an386, a Cortex-M4 with
 * 4 MiB of code RAM at 0 and 4 MiB of data RAM at 0x20000000): the vector table, and a reset
 * handler that turns the FPU on (CPACR: CP10 and CP11 full access) before newlib's _start,
 * which sets up the C library over semihosting (librdimon) and calls main. */
extern void _start(void);
extern unsigned long __stack;

void reset_handler(void);
void fault_handler(void);

void reset_handler(void) {
  volatile unsigned long *cpacr = (volatile unsigned long *)0xE000ED88UL;
  *cpacr |= 0xFUL << 20;
  __asm__ volatile("dsb\n\tisb");
  _start();
  for (;;) {
  }
}

/* A fault stops the run: qemu then times out, and the test reports it. */
void fault_handler(void) {
  for (;;) {
  }
}

__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))&__stack, reset_handler, fault_handler, fault_handler,
    fault_handler, fault_handler, fault_handler, 0, 0, 0, 0, fault_handler, fault_handler, 0,
    fault_handler, fault_handler};
