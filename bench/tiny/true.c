/* The cheapest program that can be exec'd: a static, libc-free _start that
 * calls exit_group(0) at once, so exec_storm measures the kernel's exec path
 * (and the tracers hooked on it), not a dynamic loader or libc start-up.
 * Built with -static -nostdlib; x86_64 only, like the rest of sonde. */

#define SYS_EXIT_GROUP_X86_64 231

void _start(void) __attribute__((noreturn, used));

void _start(void)
{
	__asm__ volatile("syscall"
			 :
			 : "a"(SYS_EXIT_GROUP_X86_64), "D"(0)
			 : "rcx", "r11", "memory");
	__builtin_unreachable();
}
