# For network-faults.test.ts: an SMTP "server" on the address given that accepts each
# connection and resets it at once (SO_LINGER 0, then close: the kernel sends RST), so the
# client's connect succeeds and the next read fails with ECONNRESET. Prints "READY".
import socket, struct, sys

host, port = sys.argv[1], int(sys.argv[2])
srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((host, port))
srv.listen(16)
print("READY", flush=True)
while True:
    conn, _ = srv.accept()
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()
