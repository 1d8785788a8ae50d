"""conv_forward_naive never returns, and the module ignores the signals a polite timeout sends."""
import signal

for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGHUP):
    signal.signal(_sig, signal.SIG_IGN)


def conv_forward_naive(x, w, b, conv_param):
    while True:
        pass
