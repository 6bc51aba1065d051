"""pt-BR text rules shared by the offline writer and the grounding check.

What counts as a technical fragment (command, path, URL, config key, error code), how speech is
split into sentences and words, and which words carry no topic. Everything here is a pure
function of the text: no model, no randomness.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

# Words that carry no topic: pt-BR function words, speech fillers and the most common verbs.
STOPWORDS: frozenset[str] = frozenset(
    [
        "a",
        "à",
        "às",
        "ao",
        "aos",
        "as",
        "o",
        "os",
        "um",
        "uma",
        "uns",
        "umas",
        "de",
        "da",
        "das",
        "do",
        "dos",
        "d",
        "em",
        "na",
        "nas",
        "no",
        "nos",
        "num",
        "numa",
        "por",
        "pela",
        "pelas",
        "pelo",
        "pelos",
        "para",
        "pra",
        "pro",
        "pros",
        "com",
        "sem",
        "sob",
        "sobre",
        "entre",
        "até",
        "após",
        "desde",
        "contra",
        "e",
        "ou",
        "mas",
        "nem",
        "que",
        "se",
        "porque",
        "pois",
        "como",
        "quando",
        "onde",
        "enquanto",
        "então",
        "senão",
        "também",
        "já",
        "ainda",
        "só",
        "mais",
        "menos",
        "muito",
        "muita",
        "muitos",
        "muitas",
        "pouco",
        "pouca",
        "tão",
        "tanto",
        "toda",
        "todo",
        "todas",
        "todos",
        "tudo",
        "nada",
        "eu",
        "tu",
        "ele",
        "ela",
        "nós",
        "vós",
        "eles",
        "elas",
        "você",
        "vocês",
        "me",
        "te",
        "se",
        "nos",
        "lhe",
        "lhes",
        "mim",
        "comigo",
        "contigo",
        "consigo",
        "meu",
        "minha",
        "meus",
        "minhas",
        "teu",
        "tua",
        "seu",
        "sua",
        "seus",
        "suas",
        "nosso",
        "nossa",
        "nossos",
        "nossas",
        "dele",
        "dela",
        "deles",
        "delas",
        "este",
        "esta",
        "estes",
        "estas",
        "esse",
        "essa",
        "esses",
        "essas",
        "aquele",
        "aquela",
        "aqueles",
        "aquelas",
        "isto",
        "isso",
        "aquilo",
        "aqui",
        "aí",
        "ali",
        "lá",
        "cá",
        "agora",
        "hoje",
        "ontem",
        "amanhã",
        "depois",
        "antes",
        "sempre",
        "nunca",
        "talvez",
        "sim",
        "não",
        "né",
        "tá",
        "tô",
        "ok",
        "okay",
        "beleza",
        "certo",
        "pronto",
        "bom",
        "boa",
        "bem",
        "tipo",
        "assim",
        "aham",
        "uhum",
        "hum",
        "ah",
        "eh",
        "opa",
        "gente",
        "pessoal",
        "coisa",
        "coisas",
        "cara",
        "vez",
        "vezes",
        "jeito",
        "parte",
        "lado",
        "é",
        "são",
        "era",
        "eram",
        "foi",
        "foram",
        "ser",
        "sendo",
        "sido",
        "está",
        "estão",
        "estava",
        "estavam",
        "estar",
        "esteve",
        "tem",
        "têm",
        "tinha",
        "tinham",
        "ter",
        "tendo",
        "teve",
        "tive",
        "há",
        "haver",
        "houve",
        "vai",
        "vão",
        "ia",
        "iam",
        "ir",
        "indo",
        "vou",
        "vamos",
        "fui",
        "faz",
        "fazer",
        "fazendo",
        "fez",
        "feito",
        "fiz",
        "faço",
        "pode",
        "podem",
        "poder",
        "podia",
        "consegue",
        "conseguir",
        "consigo",
        "fica",
        "ficar",
        "ficou",
        "fico",
        "ficam",
        "dá",
        "dar",
        "deu",
        "dou",
        "ver",
        "vê",
        "vejo",
        "vendo",
        "viu",
        "olha",
        "olhar",
        "olhando",
        "sei",
        "saber",
        "sabe",
        "acho",
        "acha",
        "achar",
        "quer",
        "querer",
        "quero",
        "precisa",
        "precisar",
        "preciso",
        "deixa",
        "deixar",
        "vem",
        "vir",
        "veio",
        "falar",
        "fala",
        "falou",
        "diz",
        "dizer",
        "disse",
        "qual",
        "quais",
        "quem",
        "cada",
        "outro",
        "outra",
        "outros",
        "outras",
        "mesmo",
        "mesma",
        "mesmos",
        "dois",
        "duas",
        "três",
        "quatro",
        "cinco",
        "seis",
        "sete",
        "oito",
        "nove",
        "dez",
        "primeiro",
        "primeira",
        "aqui",
        "exatamente",
        "perfeito",
        "ótimo",
        "obrigado",
        "obrigada",
        "valeu",
        "combinado",
        "onze",
        "doze",
        "treze",
        "quinze",
        "vinte",
        "trinta",
        "quarenta",
        "cinquenta",
        "sessenta",
        "setenta",
        "oitenta",
        "noventa",
        "cem",
        "cento",
        "duzentos",
        "trezentos",
        "quinhentos",
        "mil",
        "dia",
        "dias",
        "tarde",
        "noite",
        "fora",
        "seguida",
        "quanto",
        "quanta",
        "quantos",
        "quantas",
        "último",
        "última",
        "disso",
        "nisso",
        "desse",
        "dessa",
        "deste",
        "desta",
        "neste",
        "nesta",
        "nesse",
        "nessa",
        "daqui",
    ]
)

# English technical words commonly spoken inside pt-BR sentences.
ENGLISH_TECH_WORDS: frozenset[str] = frozenset(
    [
        "deploy",
        "deployment",
        "rollout",
        "rollback",
        "cluster",
        "node",
        "pod",
        "namespace",
        "container",
        "image",
        "registry",
        "ingress",
        "service",
        "endpoint",
        "secret",
        "configmap",
        "volume",
        "replica",
        "autoscaling",
        "scaling",
        "pool",
        "pooler",
        "timeout",
        "cache",
        "log",
        "logs",
        "backup",
        "restore",
        "dump",
        "snapshot",
        "checkpoint",
        "slot",
        "healthcheck",
        "readiness",
        "liveness",
        "probe",
        "pipeline",
        "build",
        "release",
        "branch",
        "merge",
        "commit",
        "pull",
        "push",
        "script",
        "dashboard",
        "alert",
        "alerting",
        "query",
        "queries",
        "index",
        "lock",
        "deadlock",
        "throughput",
        "latency",
        "proxy",
        "gateway",
        "load",
        "balancer",
        "firewall",
        "token",
        "payload",
        "webhook",
        "checkout",
        "retry",
        "fallback",
        "failover",
        "schema",
        "bucket",
        "queue",
        "topic",
        "broker",
        "cron",
        "job",
        "jobs",
    ]
)

# Programs that start a shell command when followed by an argument.
CLI_PROGRAMS: frozenset[str] = frozenset(
    [
        "kubectl",
        "helm",
        "docker",
        "podman",
        "git",
        "psql",
        "pg_dump",
        "pg_restore",
        "pg_basebackup",
        "pgbench",
        "pg_ctl",
        "mysql",
        "mysqldump",
        "redis-cli",
        "mongosh",
        "systemctl",
        "journalctl",
        "sudo",
        "apt",
        "apt-get",
        "yum",
        "dnf",
        "pip",
        "pip3",
        "npm",
        "npx",
        "yarn",
        "terraform",
        "ansible",
        "ansible-playbook",
        "aws",
        "az",
        "gcloud",
        "eksctl",
        "curl",
        "wget",
        "ssh",
        "scp",
        "rsync",
        "grep",
        "egrep",
        "tail",
        "head",
        "ls",
        "cd",
        "chmod",
        "chown",
        "mkdir",
        "rm",
        "cp",
        "mv",
        "export",
        "ps",
        "df",
        "du",
        "kill",
        "ping",
        "traceroute",
        "dig",
        "nslookup",
        "netstat",
        "telnet",
        "openssl",
        "nc",
        "tar",
        "unzip",
        "iptables",
        "python",
        "python3",
        "java",
        "mvn",
        "gradle",
        "dotnet",
        "cargo",
        "crontab",
        "vault",
        "consul",
        "k6",
        "jq",
        "sed",
        "awk",
    ]
)

SQL_STARTS: frozenset[str] = frozenset(
    [
        "SELECT",
        "SHOW",
        "ALTER",
        "EXPLAIN",
        "VACUUM",
        "REINDEX",
        "ANALYZE",
        "UPDATE",
        "DELETE",
        "INSERT",
        "CREATE",
        "DROP",
        "GRANT",
        "SET",
    ]
)

URL_RE = re.compile(r"\bhttps?://[^\s<>()\[\]`'\"«»]+")
PATH_RE = re.compile(
    r"(?<![\w.:/~\\-])/(?:[\w.@%+-]+/)+[\w.@%+-]*"  # /etc/pgbouncer/pgbouncer.ini
    r"|(?<![\w/])~/[\w.@%+/-]+"  # ~/.kube/config
    r"|(?<![\w./])\.\.?/[\w.@%+/-]+"  # ./loadtest/checkout.js
    r"|\b[A-Za-z]:\\[^\s'\"<>|`]+"  # C:\Program Files\...
    r"|\b[\w-]+\.(?:ini|conf|cfg|ya?ml|json|toml|properties|env|txt|log|sql|sh|ps1|py|js|ts|xml|csv)\b"
)
CONFIG_ASSIGN_RE = re.compile(r"(?<![\w.-])([A-Za-z_][\w.-]*)(\s?=\s?)([^\s,;`]+)")
SNAKE_CASE_RE = re.compile(r"(?<![\w.-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
DOTTED_KEY_RE = re.compile(r"(?<![\w./-])[a-z][\w-]+(?:\.[a-z][\w-]+){2,}\b")
ERROR_CODE_RE = re.compile(
    r"\b[A-Z]{2,10}-\d{3,6}\b"  # ORA-00942, PAG-1432
    r"|\b0x[0-9A-Fa-f]{4,16}\b"  # 0x80070005
    r"|\b[A-Z]{1,5}\d{4,}\b"  # INC0048213, E1234
)
HTTP_STATUS_RE = re.compile(
    r"\b(?:HTTP|status|erro|error|código|code)\s*([45]\d\d)\b", re.IGNORECASE
)
TICKET_RE = re.compile(
    r"\b(?!(?:ORA|ERR|HTTP|TLS|SSL|RFC|ISO)-)[A-Z][A-Z0-9]{1,9}-\d{1,6}\b"
    r"|\b(?:INC|CHG|RITM|REQ|PRB|SR)\d{5,}\b"
    r"|(?<![\w&#])#\d{3,6}\b"
)

_TRAILING_PUNCTUATION = ".,;:!?)]}»\"'"
_SENTENCE_END_RE = re.compile(r"(?<=[.!?…])\s+")
_WORD_RE = re.compile(r"[\wÀ-ÿ]+(?:[-_][\wÀ-ÿ]+)*")
_ASCII_TOKEN_RE = re.compile(r"^[\x21-\x7e]+$")


@dataclass(frozen=True, slots=True)
class Fragment:
    """A technical fragment found in plain text: its kind and character offsets."""

    kind: str  # command | path | url | config_key | error_code
    start: int
    end: int


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END_RE.split(text.strip()) if s.strip()]


def words(text: str) -> list[str]:
    return _WORD_RE.findall(text)


_stemmer = snowballstemmer.stemmer("portuguese")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    return _stemmer.stemWord(word.lower())


def content_words(text: str) -> list[str]:
    """Lowercased words that can carry a topic: no stopwords, no bare numbers, no one-letter words."""
    return [
        w
        for w in (w.lower() for w in words(text))
        if len(w) > 2 and w not in STOPWORDS and not w.isdigit()
    ]


def is_technical_term(word: str) -> bool:
    """An acronym, CamelCase, a word with digits, snake_case, or an English tech word."""
    if len(word) < 2 or word.isdigit():
        return False
    return bool(
        re.fullmatch(r"[A-Z][A-Z0-9]{1,7}s?", word)
        or re.fullmatch(r"[A-Za-z]*[a-z][A-Z][A-Za-z0-9]*", word)
        or (re.search(r"\d", word) and re.search(r"[A-Za-z]", word))
        or "_" in word
        or word.lower() in ENGLISH_TECH_WORDS
    )


def _strip_trailing(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in _TRAILING_PUNCTUATION:
        end -= 1
    return end


def _command_spans(text: str) -> list[tuple[int, int]]:
    """Shell commands (a known program and its arguments) and SQL statements said out loud.

    A shell command continues while tokens look like arguments (ASCII, not a pt-BR function
    word); an SQL statement continues to its `;` or to the end of the sentence.
    """
    tokens = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", text)]
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        start, _end, token = tokens[i]
        bare = token.rstrip(_TRAILING_PUNCTUATION)
        is_sql = bare in SQL_STARTS
        if token != bare or not (is_sql or bare in CLI_PROGRAMS):
            i += 1
            continue
        last = i
        j = i + 1
        while j < len(tokens):
            token_j = tokens[j][2]
            if (
                not _ASCII_TOKEN_RE.match(token_j)
                or token_j.lower().strip(_TRAILING_PUNCTUATION) in STOPWORDS
            ):
                break
            last = j
            if is_sql and token_j.endswith(";"):
                break
            if not is_sql and token_j[-1] in ".,;:!?":
                break
            if is_sql and token_j[-1] in ".!?" and not token_j.endswith(";"):
                break
            j += 1
        if last > i:
            span_end = tokens[last][1]
            if not tokens[last][2].endswith(";"):
                span_end = _strip_trailing(text, start, span_end)
            spans.append((start, span_end))
        i = last + 1
    return spans


def find_fragments(text: str) -> list[Fragment]:
    """Non-overlapping technical fragments in plain text, in order of appearance.

    Longer and more specific fragments win: a URL or a path inside a command stays part of it.
    """
    candidates: list[Fragment] = []
    candidates += [Fragment("command", s, e) for s, e in _command_spans(text)]
    for kind, pattern in (
        ("url", URL_RE),
        ("path", PATH_RE),
        ("config_key", CONFIG_ASSIGN_RE),
        ("config_key", DOTTED_KEY_RE),
        ("config_key", SNAKE_CASE_RE),
    ):
        for m in pattern.finditer(text):
            end = _strip_trailing(text, m.start(), m.end())
            if end > m.start():
                candidates.append(Fragment(kind, m.start(), end))
    candidates.sort(key=lambda f: (f.start, -(f.end - f.start)))
    chosen: list[Fragment] = []
    reach = -1
    for fragment in candidates:
        if fragment.start >= reach:
            chosen.append(fragment)
            reach = fragment.end
    return chosen


_MARKDOWN_SPECIALS_RE = re.compile(r"([\\`*\[\]<])")


def escape_markdown(text: str) -> str:
    """Plain speech made safe as Markdown prose: no accidental emphasis, links, code or HTML."""
    return _MARKDOWN_SPECIALS_RE.sub(r"\\\1", text)


def quote_technical(text: str) -> str:
    """Speech as Markdown: every command, path, config key and URL verbatim in backticks."""
    pieces: list[str] = []
    cursor = 0
    for fragment in find_fragments(text):
        inner = text[fragment.start : fragment.end]
        if "`" in inner:
            continue
        pieces += [escape_markdown(text[cursor : fragment.start]), f"`{inner}`"]
        cursor = fragment.end
    pieces.append(escape_markdown(text[cursor:]))
    return "".join(pieces)
