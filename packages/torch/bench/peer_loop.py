"""The PyTorch side of the interleaved benchmarks (bench/harness.ts is the other): one JSON command
per line on stdin, one JSON reply per line on stdout, flushed at once since the orchestrator waits
for each reply before it sends the next command."""
import json
import resource
import sys


def serve(handlers):
    """Answers each command with handlers[command name](command), 'rss' with the peak RSS, until
    'quit' or the end of stdin."""
    for line in sys.stdin:
        cmd = json.loads(line)
        name = cmd['cmd']
        if name in handlers:
            res = handlers[name](cmd)
        elif name == 'rss':
            res = {'maxRssKb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
        elif name == 'quit':
            break
        else:
            res = {'error': 'unknown command'}
        sys.stdout.write(json.dumps(res) + '\n')
        sys.stdout.flush()
