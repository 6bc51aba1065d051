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
        "cat",
        "netplan",
        "resolvectl",
        "nmcli",
        "tcpdump",
        "mtr",
        "nmap",
        "lsof",
        "ss",
        "hostnamectl",
        "timedatectl",
        "firewall-cmd",
        "ufw",
        "certbot",
        "virsh",
        "openstack",
        "istioctl",
        "argocd",
        "minikube",
        "k9s",
        "kustomize",
        "packer",
        "redis-server",
        "iperf3",
    ]
)

# Words that are also ordinary speech ("show", "ip"): they start a command only when followed
# by one of their subcommands (network device CLIs and iproute2).
GATED_PROGRAMS: dict[str, frozenset[str]] = {
    "show": frozenset(
        [
            "ip",
            "ipv6",
            "running-config",
            "startup-config",
            "run",
            "interface",
            "interfaces",
            "crypto",
            "logging",
            "version",
            "vlan",
            "arp",
            "mac",
            "cdp",
            "lldp",
            "spanning-tree",
            "bgp",
            "route",
            "access-lists",
            "clock",
            "processes",
            "memory",
            "inventory",
            "ntp",
            "standby",
            "vrrp",
            "policy-map",
            "controllers",
            "tech-support",
            "license",
            "etherchannel",
            "port-channel",
            "mpls",
            "ospf",
            "system",
            "configuration",
            "log",
        ]
    ),
    "ip": frozenset(
        [
            "addr",
            "address",
            "a",
            "route",
            "r",
            "link",
            "neigh",
            "rule",
            "netns",
            "tcp",
            "mtu",
            "nat",
            "access-list",
            "ospf",
            "name-server",
            "domain-name",
            "-br",
            "-4",
            "-6",
            "-s",
        ]
    ),
}

# Spoken words that end a command: besides the stopwords, adverbs and connectors of pt-BR
# speech that are never an argument ("roda kubectl logs direto").
COMMAND_BREAK_WORDS: frozenset[str] = frozenset(
    [
        "direto",
        "direitinho",
        "rapidinho",
        "rápido",
        "logo",
        "novamente",
        "aqui",
        "ali",
        "lá",
        "aí",
        "daí",
        "então",
        "porque",
        "pois",
        "mesmo",
        "também",
        "tambem",
        "so",
        "ate",
        "entao",
        "nao",
        "voce",
        "ne",
        "ta",
        "tipo",
        "olha",
        "isso",
        "esse",
        "essa",
        "este",
        "esta",
        "ele",
        "ela",
        "vai",
        "vou",
        "deu",
        "certo",
        "pronto",
        "beleza",
        "primeiro",
        "depois",
        "antes",
        "agora",
        "ainda",
        "sempre",
        "nunca",
        "tava",
        "tavam",
        "remoto",
        "remota",
        "normal",
        "novo",
        "nova",
        "antigo",
        "antiga",
        "inteiro",
        "errado",
        "grande",
        "pequeno",
        "padrão",
    ]
)
# Conjugated pt-BR verbs and adverbs, by ending ("funcionava", "apontando", "aparece",
# "rodou", "normalmente"); only plain lowercase words are tested, so no argument is cut.
_PT_VERB_OR_ADVERB_RE = re.compile(
    r"[a-z]{2,}(?:ando|endo|indo|ava|avam|aram|eram|iram|ece|ecem|eceu|ou|amos|emos|imos|mente)"
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
    r"|(?<![\w./@:-])[\w.-]+(?:/[\w.@%+-]+)+\.(?:ini|conf|cfg|ya?ml|json|toml|properties|env|txt|log|sql|sh|ps1|py|js|ts|xml|csv)\b"  # deploy/app/values.yaml
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
        or re.fullmatch(r"[A-Z]{2,}[a-z][A-Za-z0-9]*", word)  # OOMKilled, HTTPServer
        or (re.search(r"\d", word) and re.search(r"[A-Za-z]", word))
        or "_" in word
        or word.lower() in ENGLISH_TECH_WORDS
    )


def _strip_trailing(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in _TRAILING_PUNCTUATION:
        end -= 1
    return end


_FLAG_RE = re.compile(r"^--?[A-Za-z][\w-]*$")  # -n, --previous (no "=value" of its own)
_CLEAR_ARGUMENT_RE = re.compile(r"^(?:-|\d)|[./=@:~]")  # a flag, a number, a path, key=value...


def is_command_break(token: str) -> bool:
    """Whether a spoken word ends a command: a pt-BR function word, filler, adverb or verb."""
    word = token.strip(_TRAILING_PUNCTUATION)
    lower = word.lower()
    if not word or not _ASCII_TOKEN_RE.match(word):
        return not _ASCII_TOKEN_RE.match(token)
    if lower in STOPWORDS or lower in COMMAND_BREAK_WORDS:
        return True
    return word.isalpha() and word.islower() and bool(_PT_VERB_OR_ADVERB_RE.fullmatch(word))


def _starts_command(tokens: list[tuple[int, int, str]], i: int) -> bool:
    token = tokens[i][2]
    if token in CLI_PROGRAMS:
        return True
    subcommands = GATED_PROGRAMS.get(token)
    if not subcommands or i + 1 >= len(tokens):
        return False
    return tokens[i + 1][2].rstrip(_TRAILING_PUNCTUATION) in subcommands


# Endings of pt-BR verbs (infinitive, gerund, participle, common tenses), adverbs and adjectives.
_VERB_OR_ADJECTIVE_RE = re.compile(
    r".{2,}(?:ar|er|ir|ando|endo|indo|ado|ada|ados|adas|ido|ida|idos|idas|ava|avam|ou|ei|"
    r"eu|iu|amos|emos|imos|aram|eram|iram|ece|ecem|oso|osa|osos|osas|ivo|iva|ivos|ivas|vel|veis|mente|"
    r"inho|inha|inhos|inhas)"
)
# Nouns with those endings that name things in technical calls.
_NOUNS_LIKE_VERBS: frozenset[str] = frozenset(
    [
        "estado", "estados", "resultado", "dado", "dados", "pedido", "pedidos", "saída",
        "entrada", "medida", "chamado", "chamados", "mercado", "lado", "cuidado", "partida",
        "período", "conteúdo", "sentido", "lugar", "celular", "valor", "servidor", "usuário",
        "senha", "produto", "catálogo", "mudança", "parâmetro", "ambiente", "cliente", "cluster",
        "container", "docker", "helper", "worker", "server", "router", "filter", "header",
        "footer", "master", "poller", "buffer", "timer", "driver", "folder", "provider",
        "listener", "scheduler", "broker", "cliente", "fiscal", "linha", "planilha", "senha",
        "caminho", "arquivo", "alerta", "registro", "cadastro", "rotina", "tabela", "campo",
        "processo", "módulo", "modelo", "relatório", "painel", "túnel", "nível", "comando",
        "comandos", "pneu", "chapéu", "museu", "cadeado", "teclado", "mercado", "feriado",
    ]
)


def is_title_word(word: str) -> bool:
    """Whether a word can name what a section is about: a noun or a technical term.

    Conjugated verbs, participles, adverbs and adjectives are recognized by their pt-BR endings
    ("conectada", "rodar", "tava", "crescendo", "inteiro" is kept); technical terms and
    capitalized names always pass.
    """
    if is_technical_term(word) or not word.islower():
        return True
    lower = word.lower()
    if lower in STOPWORDS or lower in COMMAND_BREAK_WORDS or len(lower) < 3:
        return False
    if lower in _NOUNS_LIKE_VERBS:
        return True
    return not _VERB_OR_ADJECTIVE_RE.fullmatch(lower)


def _command_spans(text: str) -> list[tuple[int, int]]:
    """Shell commands (a known program and its arguments) and SQL statements said out loud.

    A shell command continues while tokens look like arguments (ASCII, not a pt-BR function
    word, adverb or conjugated verb); right after a flag a plain word is taken as the flag's
    value when a clear argument follows it (`ping -M do -s 1472`). An SQL statement continues
    to its `;` or to the end of the sentence.
    """
    tokens = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", text)]
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        start, _end, token = tokens[i]
        bare = token.rstrip(_TRAILING_PUNCTUATION)
        is_sql = bare in SQL_STARTS
        if token != bare or not (is_sql or _starts_command(tokens, i)):
            i += 1
            continue
        last = i
        j = i + 1
        while j < len(tokens):
            token_j = tokens[j][2]
            if not _ASCII_TOKEN_RE.match(token_j):
                break
            if not is_sql and is_command_break(token_j):
                flag_value = (
                    _FLAG_RE.match(tokens[j - 1][2])
                    and token_j.isalpha()
                    and j + 1 < len(tokens)
                    and _CLEAR_ARGUMENT_RE.search(tokens[j + 1][2])
                )
                if not flag_value:
                    break
            elif is_sql and token_j.lower().strip(_TRAILING_PUNCTUATION) in STOPWORDS:
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


# ---- section titles -----------------------------------------------------------------------

# Words that open a pt-BR noun phrase: articles, contractions and demonstratives.
_NOUN_OPENERS_TEXT = (
    "o a os as um uma do da dos das no na nos nas ao à aos às pelo pela pelos pelas "
    "esse essa esses essas este esta estes estas desse dessa desses dessas deste desta "
    "nesse nessa neste nesta meu minha seu sua nosso nossa"
)
NOUN_OPENERS: frozenset[str] = frozenset(_NOUN_OPENERS_TEXT.split(" "))
_OF = frozenset(["de", "do", "da", "dos", "das"])
_IN = frozenset(["em", "no", "na", "nos", "nas"])  # only before a technical term
_ARTICLES = frozenset(["o", "a", "os", "as"])
# Adjectives that read well after a noun in a title ("configuração fiscal", "acesso remoto").
_TITLE_ADJECTIVE_RE = re.compile(
    r"[a-zà-ÿ]{3,}(?:al|ais|ico|ica|icos|icas|ivo|iva|ivos|ivas|oto|ota|otos|otas)"
)
_TITLE_TOKEN_RE = re.compile(r"[\wÀ-ÿ]+(?:[-_.][\wÀ-ÿ]+)*|[^\s\w]")
MAX_PHRASE_WORDS = 4


def title_phrases(text: str, is_noun) -> list[tuple[str, list[str]]]:
    """Noun phrases of a sentence that can title a section, as (phrase, content words).

    A phrase is a noun after an article or contraction ("o limite", "da TES") or a technical
    term, then an optional adjective ("fiscal") and up to two "de/do/da" complements
    ("limite de memória do container"); "em/no/na" only joins a technical term ("pods em
    CrashLoopBackOff"). `is_noun(word)` says whether a lowercase word is a noun in this call.
    The phrase is returned without its leading article, in the words of the sentence.
    """
    tokens = _TITLE_TOKEN_RE.findall(text)
    lowered = [t.lower() for t in tokens]

    def noun_at(i: int) -> bool:
        if i >= len(tokens):
            return False
        token = tokens[i]
        if not token[:1].isalnum() or lowered[i] in STOPWORDS or token.isdigit():
            return False
        return is_technical_term(token) or (token.islower() and is_noun(token))

    out: list[tuple[str, list[str]]] = []
    for i in range(len(tokens)):
        opened = i > 0 and lowered[i - 1] in NOUN_OPENERS
        if not noun_at(i) or not (opened or is_technical_term(tokens[i])):
            continue
        parts, content, j = [tokens[i]], [tokens[i]], i + 1
        if (
            j < len(tokens)
            and tokens[j].islower()
            and lowered[j] not in STOPWORDS
            and _TITLE_ADJECTIVE_RE.fullmatch(lowered[j])
        ):
            parts.append(tokens[j])
            content.append(tokens[j])
            j += 1
        complements = 0
        while complements < 2 and len(content) < MAX_PHRASE_WORDS and j + 1 < len(tokens):
            k = j + 1
            article = lowered[j] == "de" and lowered[k] in _ARTICLES
            if article:
                k += 1
            joins = lowered[j] in _OF or (
                lowered[j] in _IN and k < len(tokens) and is_technical_term(tokens[k])
            )
            if not (joins and noun_at(k)):
                break
            parts.extend(tokens[j : k + 1])
            content.append(tokens[k])
            j = k + 1
            complements += 1
        out.append((" ".join(parts), content))
    return out
