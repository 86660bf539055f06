# shellcheck shell=bash disable=SC2034,SC2016 # sets the caller's variables; PHP and JS in quotes
# Sourced by scripts/verify: the two sides of each preset.
#
#   choose_preset SIDE PRESET PROGRAMS_DIR
# sets
#   tuned_words  the tuned program's command, word by word: run under kashim (or applied to,
#                with --attach); exec'd directly, so that the wrapper sees the program itself
#                (it picks the route -- preload or supervisor -- by looking at it)
#   peer         the plain side, a bash command line
#   needs        PACKAGE:COMMAND pairs the preset runs
# and returns 1 for a preset the side does not have. {host}, {port}, {url_host} and {workdir}
# are filled in later; stdin is a pipe verify holds open (and writes to with --send).

choose_preset() {
  local side=$1 preset=$2 programs=$3
  local silent_server='nc -l {host} {port}' plain_client='nc {host} {port}'
  local script=
  tuned_words=()
  needs=(netcat-openbsd:nc)
  case $side in client) peer=$silent_server ;; server) peer=$plain_client ;; esac
  case $side:$preset in
    client:nc) tuned_words=(nc '{host}' '{port}') ;;
    client:php)
      script='$s = stream_socket_client("tcp://{url_host}:{port}", $errno, $error, 5) or exit(2);
        $data = fread($s, 1); fwrite(STDERR, "php: fread gave " . var_export($data, true) . "\n");'
      tuned_words=(php -r "$script") needs+=(php-cli:php) ;;
    client:php-socket)
      script='$s = socket_create(strpos("{host}", ":") === false ? AF_INET : AF_INET6, SOCK_STREAM, SOL_TCP);
        socket_connect($s, "{host}", {port}) or exit(2); $data = @socket_read($s, 1);
        fwrite(STDERR, "php: socket_read gave " . var_export($data, true) . ", " . socket_strerror(socket_last_error($s)) . "\n");'
      tuned_words=(php -r "$script") needs+=(php-cli:php) ;;
    client:php-ssl)
      script='$context = stream_context_create(["ssl" => ["verify_peer" => false, "verify_peer_name" => false]]);
        $s = stream_socket_client("ssl://{url_host}:{port}", $errno, $error, 5, STREAM_CLIENT_CONNECT, $context) or exit(2);
        $data = fread($s, 1); fwrite(STDERR, "php: TLS established, fread gave " . var_export($data, true) . "\n");'
      tuned_words=(php -r "$script")
      peer='openssl s_server -quiet -naccept 1 -accept {url_host}:{port} -cert {workdir}/cert.pem -key {workdir}/key.pem'
      needs=(php-cli:php openssl:openssl) ;;
    client:python3)
      script='import socket, sys
s = socket.create_connection(("{host}", {port}))
try:
    s.recv(1)
except OSError as error:
    sys.exit("python3: %s" % error)'
      tuned_words=(python3 -c "$script") needs+=(python3:python3) ;;
    client:curl) tuned_words=(curl -sS -o /dev/null 'http://{url_host}:{port}/') needs+=(curl:curl) ;;
    client:node)
      script='const s = require("net").connect({port}, "{host}"); s.setKeepAlive(true, 1000);
        s.on("error", (e) => { console.error("node: " + e.code); process.exit(1); });'
      tuned_words=(node -e "$script") needs+=(nodejs:node) ;;
    server:nc) tuned_words=(nc -l '{host}' '{port}') ;;
    server:php)
      script='$l = stream_socket_server("tcp://{url_host}:{port}") or exit(2); $c = stream_socket_accept($l, 60) or exit(2);
        $data = fread($c, 1); fwrite(STDERR, "php: fread gave " . var_export($data, true) . "\n");'
      tuned_words=(php -r "$script") needs+=(php-cli:php) ;;
    server:python3)
      script='import socket, sys
listener = socket.create_server(("{host}", {port}), family=socket.AF_INET6 if ":" in "{host}" else socket.AF_INET)
connection, _ = listener.accept()
try:
    connection.recv(1)
except OSError as error:
    sys.exit("python3: %s" % error)'
      tuned_words=(python3 -c "$script") needs+=(python3:python3) ;;
    # Programs the preload cannot reach, built with the project (test/programs/): the
    # wrapper gives them the supervisor route.
    *:static | *:go) tuned_words=("$programs/${preset}_$side" '{host}' '{port}') ;;
    *) return 1 ;;
  esac
}
