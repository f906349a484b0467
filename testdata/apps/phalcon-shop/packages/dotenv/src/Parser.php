<?php

declare(strict_types=1);

namespace Dotenv;

use Dotenv\Exception\InvalidFileException;

/**
 * Turns the text of a .env file into entries.
 *
 * Supported syntax, one assignment per line:
 *
 *     # a comment
 *     NAME=value                  unquoted: no whitespace inside, ends at " #"
 *     export NAME=value           the "export " prefix is ignored
 *     NAME='literal ${NOT} \n'    single quotes: nothing is interpreted
 *     NAME="a\tb ${OTHER}"        double quotes: escapes and ${VAR} expansion
 *     NAME=                       empty value
 *
 * Quoted values may span several lines. Expansion (${VAR}) also works in
 * unquoted values; the parser only records where it happens, the caller
 * resolves it (see Entry::resolve()).
 *
 * @internal
 */
final class Parser
{
    private const NAME = '/\G[A-Za-z_][A-Za-z0-9_.]*/';

    private string $src = '';
    private int $pos = 0;
    private int $len = 0;
    private int $line = 1;

    /**
     * @return list<Entry>
     *
     * @throws InvalidFileException
     */
    public function parse(string $content): array
    {
        if (str_starts_with($content, "\xEF\xBB\xBF")) {
            $content = substr($content, 3);
        }
        $this->src = str_replace(["\r\n", "\r"], "\n", $content);
        $this->pos = 0;
        $this->len = strlen($this->src);
        $this->line = 1;

        $entries = [];
        while (true) {
            $this->skipBlank();
            if ($this->pos >= $this->len) {
                break;
            }
            if ($this->src[$this->pos] === '#') {
                $this->skipToEndOfLine();
                continue;
            }
            $entries[] = $this->parseAssignment();
        }

        return $entries;
    }

    private function parseAssignment(): Entry
    {
        if (preg_match('/\Gexport[ \t]+/', $this->src, $m, 0, $this->pos) === 1) {
            $this->pos += strlen($m[0]);
        }

        if (preg_match(self::NAME, $this->src, $m, 0, $this->pos) !== 1) {
            throw $this->error('expected a variable name');
        }
        $name = $m[0];
        $this->pos += strlen($name);
        $this->skipSpaces();

        if ($this->peek() !== '=') {
            throw $this->error(sprintf('expected "=" after %s', $name));
        }
        ++$this->pos;
        $this->skipSpaces();

        $parts = match ($this->peek()) {
            '"' => $this->parseDoubleQuoted(),
            "'" => $this->parseSingleQuoted(),
            default => $this->parseUnquoted($name),
        };

        return new Entry($name, $parts);
    }

    /**
     * @return list<array{0: 'lit'|'var', 1: string}>
     */
    private function parseSingleQuoted(): array
    {
        $startLine = $this->line;
        $end = strpos($this->src, "'", $this->pos + 1);
        if ($end === false) {
            throw new InvalidFileException(sprintf('line %d: unterminated single-quoted value', $startLine));
        }
        $value = substr($this->src, $this->pos + 1, $end - $this->pos - 1);
        $this->line += substr_count($value, "\n");
        $this->pos = $end + 1;
        $this->afterClosingQuote();

        return [['lit', $value]];
    }

    /**
     * @return list<array{0: 'lit'|'var', 1: string}>
     */
    private function parseDoubleQuoted(): array
    {
        $startLine = $this->line;
        ++$this->pos;
        $parts = [];
        $buffer = '';

        while (true) {
            if ($this->pos >= $this->len) {
                throw new InvalidFileException(sprintf('line %d: unterminated double-quoted value', $startLine));
            }
            $c = $this->src[$this->pos];

            if ($c === '"') {
                ++$this->pos;
                break;
            }
            if ($c === '\\' && $this->pos + 1 < $this->len) {
                $next = $this->src[$this->pos + 1];
                $escaped = match ($next) {
                    'n' => "\n",
                    'r' => "\r",
                    't' => "\t",
                    'f' => "\f",
                    'v' => "\v",
                    '"', '\\', '$' => $next,
                    default => null,
                };
                if ($escaped !== null) {
                    $buffer .= $escaped;
                    $this->pos += 2;
                    continue;
                }
            }
            if ($c === '$' && ($ref = $this->matchReference()) !== null) {
                [$varName, $length] = $ref;
                if ($buffer !== '') {
                    $parts[] = ['lit', $buffer];
                    $buffer = '';
                }
                $parts[] = ['var', $varName];
                $this->pos += $length;
                continue;
            }
            if ($c === "\n") {
                ++$this->line;
            }
            $buffer .= $c;
            ++$this->pos;
        }

        if ($buffer !== '' || $parts === []) {
            $parts[] = ['lit', $buffer];
        }
        $this->afterClosingQuote();

        return $parts;
    }

    /**
     * @return list<array{0: 'lit'|'var', 1: string}>
     */
    private function parseUnquoted(string $name): array
    {
        $eol = strpos($this->src, "\n", $this->pos);
        $raw = substr($this->src, $this->pos, ($eol === false ? $this->len : $eol) - $this->pos);
        $this->pos += strlen($raw);

        // A "#" starts a comment when it opens the value or follows whitespace.
        if (preg_match('/(^|[ \t])#/', $raw, $m, PREG_OFFSET_CAPTURE) === 1) {
            $raw = substr($raw, 0, $m[0][1]);
        }
        $raw = rtrim($raw, " \t");

        if (preg_match('/[ \t]/', $raw) === 1) {
            throw $this->error(sprintf('the value of %s contains whitespace and must be quoted', $name));
        }

        $parts = [];
        $offset = 0;
        while (preg_match('/\$\{([A-Za-z_][A-Za-z0-9_.]*)\}/', $raw, $m, PREG_OFFSET_CAPTURE, $offset) === 1) {
            if ($m[0][1] > $offset) {
                $parts[] = ['lit', substr($raw, $offset, $m[0][1] - $offset)];
            }
            $parts[] = ['var', $m[1][0]];
            $offset = $m[0][1] + strlen($m[0][0]);
        }
        if ($offset < strlen($raw) || $parts === []) {
            $parts[] = ['lit', substr($raw, $offset)];
        }

        return $parts;
    }

    /**
     * At a "$": the name and total length of a ${NAME} reference, or null.
     *
     * @return array{0: string, 1: int}|null
     */
    private function matchReference(): ?array
    {
        if (preg_match('/\G\$\{([A-Za-z_][A-Za-z0-9_.]*)\}/', $this->src, $m, 0, $this->pos) !== 1) {
            return null;
        }

        return [$m[1], strlen($m[0])];
    }

    /**
     * After a closing quote only whitespace and a comment may follow.
     */
    private function afterClosingQuote(): void
    {
        $this->skipSpaces();
        $c = $this->peek();
        if ($c === '#') {
            $this->skipToEndOfLine();

            return;
        }
        if ($c !== null && $c !== "\n") {
            throw $this->error('unexpected characters after the closing quote');
        }
    }

    private function peek(): ?string
    {
        return $this->pos < $this->len ? $this->src[$this->pos] : null;
    }

    private function skipSpaces(): void
    {
        while ($this->pos < $this->len && ($this->src[$this->pos] === ' ' || $this->src[$this->pos] === "\t")) {
            ++$this->pos;
        }
    }

    private function skipBlank(): void
    {
        while ($this->pos < $this->len && str_contains(" \t\n", $this->src[$this->pos])) {
            if ($this->src[$this->pos] === "\n") {
                ++$this->line;
            }
            ++$this->pos;
        }
    }

    private function skipToEndOfLine(): void
    {
        $eol = strpos($this->src, "\n", $this->pos);
        $this->pos = $eol === false ? $this->len : $eol;
    }

    private function error(string $message): InvalidFileException
    {
        return new InvalidFileException(sprintf('line %d: %s', $this->line, $message));
    }
}
