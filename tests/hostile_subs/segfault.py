"""max_pool_backward_naive dereferences a null pointer (SIGSEGV) through ctypes."""
import ctypes


def max_pool_backward_naive(dout, cache):
    return ctypes.string_at(0)
