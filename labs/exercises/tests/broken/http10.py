"""An HTTP server that closes the connection after every response (HTTP/1.0 style): GET and
404 pass, keep-alive cannot. Usage: python3 http10.py PORT"""

import http.server
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        body = b"hello, netlab\n" if self.path == "/hello" else b"not found\n"
        self.send_response(200 if self.path == "/hello" else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
