<?php
// SPDX-License-Identifier: MIT
//
// bounced_check.php - "may I send to X?" from PHP, over bounced's query
// socket (bounced/README-protocol.md).  No extension beyond PHP's streams.
//
//   require 'bounced_check.php';
//   try {
//       foreach (bounced_check(['alice@example.com', 'bob@example.net']) as $addr => $v) {
//           if ($v['state'] !== 'ok') {
//               error_log("not sending to $addr: {$v['text']}");   // suppressed or error
//           }
//       }
//   } catch (BouncedUnavailable $e) {
//       // bounced cannot be asked: nothing is known; decide for yourself
//   }
//
// Each verdict: ['state' => 'ok'|'suppressed'|'error', 'cause', 'reason',
// 'since', 'until' (null: never), 'domain' (bool), 'text' (the reply, or
// the error)].  All addresses go in one connection, pipelined.
//
// As a command:  php bounced_check.php [-s SOCKET] ADDRESS...
// prints "ADDRESS ok" / "ADDRESS suppressed CAUSE REASON SINCE ..." /
// "ADDRESS error TEXT"; exit 0 (all ok), 1 (one suppressed), 2 (one
// malformed, or usage), 3 (bounced unreachable).

class BouncedUnavailable extends RuntimeException
{
}

function bounced_parse_reply(string $line): array
{
    $v = ['state' => 'error', 'cause' => null, 'reason' => null, 'since' => null,
          'until' => null, 'domain' => false, 'text' => $line];
    if ($line === 'OK') {
        $v['state'] = 'ok';
        return $v;
    }
    $parts = explode(' ', $line);
    if ($parts[0] === 'SUPPRESSED' && count($parts) >= 4) {
        $v['state'] = 'suppressed';
        [, $v['cause'], $v['reason'], $v['since']] = $parts;
        foreach (array_slice($parts, 4) as $p) {
            if (strncmp($p, 'until=', 6) === 0) {
                $v['until'] = substr($p, 6);
            } elseif ($p === 'entry=domain') {
                $v['domain'] = true;
            }
        }
        return $v;
    }
    if ($parts[0] === 'ERR') {
        $v['text'] = substr($line, 4);
        return $v;
    }
    throw new BouncedUnavailable('unexpected reply from bounced: ' . substr($line, 0, 200));
}

/**
 * @param string[] $addresses
 * @return array<string, array> address => verdict
 * @throws BouncedUnavailable
 */
function bounced_check(array $addresses, ?string $socket = null, float $timeout = 5.0): array
{
    $socket = $socket ?? (getenv('BOUNCED_QUERY_SOCKET') ?: '/run/bounced/query.sock');
    $out = [];
    $sent = [];
    $req = '';
    foreach ($addresses as $a) {
        $a = (string)$a;
        // one request per line: never send a line break or a control character
        if ($a === '' || preg_match('/[\x00-\x1f\x7f]/', $a)) {
            $out[$a] = ['state' => 'error', 'cause' => null, 'reason' => null, 'since' => null,
                        'until' => null, 'domain' => false,
                        'text' => 'refused by the client: empty, line break or control character'];
            continue;
        }
        $sent[] = $a;
        $req .= "CHECK $a\n";
    }
    if (!$sent) {
        return $out;
    }
    $s = @stream_socket_client('unix://' . $socket, $errno, $errstr, $timeout);
    if ($s === false) {
        throw new BouncedUnavailable("cannot connect to $socket: $errstr");
    }
    stream_set_timeout($s, (int)ceil($timeout));
    try {
        for ($off = 0; $off < strlen($req); $off += $n) {
            $n = @fwrite($s, substr($req, $off));
            if ($n === false || $n === 0) {
                throw new BouncedUnavailable("writing to $socket failed");
            }
        }
        foreach ($sent as $a) {
            $line = fgets($s);
            if ($line === false) {
                $meta = stream_get_meta_data($s);
                throw new BouncedUnavailable($meta['timed_out'] ? 'bounced did not answer in time'
                    : 'bounced closed the connection');
            }
            $out[$a] = bounced_parse_reply(rtrim($line, "\r\n"));
        }
    } finally {
        fclose($s);
    }
    return $out;
}

function bounced_may_send(string $address, ?string $socket = null): bool
{
    return bounced_check([$address], $socket)[$address]['state'] === 'ok';
}

// The command, when this file is run rather than included.
if (PHP_SAPI === 'cli' && isset($argv[0]) && realpath($argv[0]) === __FILE__) {
    $args = array_slice($argv, 1);
    $socket = null;
    if (count($args) >= 2 && $args[0] === '-s') {
        $socket = $args[1];
        $args = array_slice($args, 2);
    }
    if (!$args || $args[0][0] === '-') {
        fwrite(STDERR, "usage: php bounced_check.php [-s SOCKET] ADDRESS...\n");
        exit(2);
    }
    try {
        $verdicts = bounced_check($args, $socket);
    } catch (BouncedUnavailable $e) {
        fwrite(STDERR, 'bounced_check.php: ' . $e->getMessage() . "\n");
        exit(3);
    }
    $status = 0;
    foreach ($args as $a) {
        $v = $verdicts[$a];
        if ($v['state'] === 'ok') {
            echo "$a ok\n";
        } elseif ($v['state'] === 'suppressed') {
            echo "$a suppressed " . substr($v['text'], strlen('SUPPRESSED ')) . "\n";
            $status = max($status, 1);
        } else {
            echo "$a error {$v['text']}\n";
            $status = max($status, 2);
        }
    }
    exit($status);
}
