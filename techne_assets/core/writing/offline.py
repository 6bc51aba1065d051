"""The offline writer: a deterministic, rule-based document from the transcript alone.

No model and no network. Every sentence in the document is a sentence of the call (commands,
paths, config keys and URLs quoted verbatim in backticks) or a fixed pt-BR phrase around it,
so nothing technical can be invented. Topics come from a TextTiling-like lexical-cohesion
segmentation (with cue phrases such as "agora vamos" as extra evidence); the other sections
come from cue phrases of pt-BR speech. Every pass is linear in the transcript's length.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from statistics import mean, pstdev

from techne_assets.core.document import (
    ActionItem,
    Document,
    DocumentHeader,
    GlossaryTerm,
    Problem,
    Procedure,
    QuestionAnswer,
    Reference,
    Step,
    TimeRange,
    Topic,
    render_sections,
)
from techne_assets.core.text_rules import (
    CLI_PROGRAMS,
    ENGLISH_TECH_WORDS,
    NOUN_OPENERS,
    STOPWORDS,
    TICKET_RE,
    URL_RE,
    content_words,
    find_fragments,
    is_technical_term,
    is_title_word,
    quote_technical,
    split_sentences,
    stem,
    title_phrases,
    words,
)
from techne_assets.core.transcript import Transcript, format_timestamp
from techne_assets.core.writing.base import Draft, WritingContext

WRITER_NAME = "offline"


def _cue(*phrases: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + "|".join(phrases) + r")(?!\w)", re.IGNORECASE)


TOPIC_SHIFT = _cue(
    "agora vamos",
    "agora a gente vai",
    "próximo tópico",
    "próximo assunto",
    "passando para",
    "passando pra",
    "mudando de assunto",
    "outro ponto",
    "outro assunto",
    "voltando (?:rapidamente )?(?:ao|à|para|pra)",
)
DECISION = _cue(
    "decidimos",
    "decidiu",
    "ficou decidido",
    "ficou definido",
    "fica definido",
    "definimos",
    "vamos usar",
    "vamos seguir com",
    "optamos",
    "a decisão",
    "ficou combinado",
    "ficou acordado",
)
SEQUENCE_START = re.compile(
    r"^(?:e\s+|então,?\s+|aí\s+)?(?:primeiro|depois disso|depois,|"
    r"depois (?:você|eu|a gente|roda|rode|clica|clique)|em seguida|por último|por fim|finalmente|"
    r"passo \d+|no passo|aí você|agora você|"
    r"(?:(?:a|o)\s+)?(?:(?:primeira|segunda|terceira|próxima) coisa|(?:segundo|terceiro|quarto|próximo) passo))\b",
    re.IGNORECASE,
)
# An imperative (or first-person) step verb at the start of a clause: "Clica em Incluir",
# "confere tudo e clica em Confirmar", "aí você roda o ...", "marco o pedido". Mid-sentence
# uses ("essa aplicação roda com ...") are narration, not steps.
_STEP_VERBS = (
    "clica|clique|clico|cliquei|acessa|acesse|acesso|acessei|abre|abra|abri|abro|"
    "seleciona|selecione|seleciono|selecionei|preenche|preencha|preencho|preenchi|"
    "digita|digite|digito|digitei|marca|marque|marco|marquei|desmarca|desmarque|"
    "salva|salve|salvo|salvei|confirma|confirme|confirmo|confirmei|roda|rode|rodo|rodei|"
    "executa|execute|executo|executei|aplica|aplique|aplico|apliquei|reinicia|reinicie|"
    "reinicio|reiniciei|copia|copie|copio|copiei|cola|cole|colo|colei|escolhe|escolha|"
    "escolho|escolhi|edita|edite|edito|editei|pesquisa|pesquise|pesquisei|filtra|filtre|"
    "filtrei|confere|confira|conferi|acompanha|acompanhe|acompanhei|arrasta|arraste|"
    "exporta|exporte|exportei|importa|importe|instala|instale|instalei|coloca|coloque|"
    "coloco|troca|troque|troco|troquei|altera|altere|alterei|habilita|habilite|habilitei|"
    "desabilita|desabilite|transmite|transmita|"
    # moving to a screen: "vou em Documento de Saída", "entrei no SIGACFG"
    "(?:vai|vá|vou|fui|volta|volte|volto|voltei|entra|entre|entro|entrei) (?:em|no|na|pro|pra|para)"
    "(?=\\s+(?:o\\s+|a\\s+)?[A-ZÀ-Ú])"
)
_STEP_VERB_WORD = re.compile(r"(?i:" + _STEP_VERBS.split("(?:vai")[0].rstrip("|") + r")")
STEP_VERB = re.compile(
    r"(?:^|[,:;]\s+|\b(?i:e|aí|daí|então|agora|depois|você|eu|a gente|só|já|primeiro|"
    r"em seguida|por fim)\s+)(?:(?i:o|a|um|uma)\s+)?(?i:" + _STEP_VERBS + r")(?!\w)(?!\s*\?)"
)
SCREEN_ACTION = STEP_VERB
# Programs that name how a procedure is done ("... com kubectl"); "sudo" only prefixes one.
_TITLE_PROGRAMS = frozenset(p for p in CLI_PROGRAMS if p.isalpha() and p.islower()) - {"sudo"}
_PROGRAM_STEMS = frozenset(stem(p) for p in _TITLE_PROGRAMS)
# A menu path: three or more screen names in a row after a cue ("o caminho é SIGAFIS,
# Atualizações, Cadastros", "Vou em Ambiente > Cadastros > Parâmetros").
MENU_PATH = re.compile(
    r"(?i:caminho|menu|vou em|vai em|vá em|entra em|acessa|acesse)\b[^.?!]{0,20}?"
    r"[A-ZÀ-Ú][\wÀ-ÿ.]*(?:\s+(?:de|do|da|e)?\s*[A-ZÀ-Ú][\wÀ-ÿ]*)*"
    r"(?:\s*(?:,|>|->|/)\s*[A-ZÀ-Ú][\wÀ-ÿ]*(?:\s+(?:de|do|da|e)\s+[A-ZÀ-Ú][\wÀ-ÿ]*)*){2,}"
    r"|[A-ZÀ-Ú][\wÀ-ÿ]*(?:\s*>\s*[A-ZÀ-Ú][\wÀ-ÿ]*(?:\s+[\wÀ-ÿ]+)?){2,}"
    # a module code, then two or more screens: "SIGAFAT, Atualizações, Movimentos"
    r"|^[A-Z][A-Z0-9_]{2,}(?:\s*,\s*[A-ZÀ-Ú][\wÀ-ÿ]*(?:\s+(?:de|do|da|e)\s+[A-ZÀ-Ú][\wÀ-ÿ]*)*){2,}"
)
# Someone shows a screen: the steps around it are a demonstration.
SCREEN_SHARE = _cue(
    "compartilh\\w* (?:a |minha |a minha |de novo )?tela",
    "compartilhando",
    "t[ãa]o vendo",
    "tá vendo",
    "estão vendo",
    "aqui na tela",
    "na minha tela",
)
# A step said as a contingency ("Nesse caso o rollback é ...", "Se você rodar ...") is an
# alternative or a warning, not the next step of the procedure.
# "Vamos criar uma TES nova", "vou reiniciar o serviço": the speaker announces the next action.
STEP_INTENT = re.compile(
    r"\b(?i:vamos|vou|agora a gente vai)\s+(?i:clicar|acessar|abrir|selecionar|preencher|digitar|"
    r"marcar|salvar|rodar|executar|aplicar|reiniciar|copiar|colar|escolher|editar|"
    r"pesquisar|filtrar|exportar|importar|instalar|trocar|alterar|habilitar|"
    r"desabilitar|transmitir|emitir|cadastrar|incluir)(?!\w)"
    r"|\b(?i:vamos)\s+(?i:criar)(?!\w)"
)
# Naming the screen being shown: "A rotina é a MATA410", "a tela é a de Pedidos".
SCREEN_NAME = re.compile(
    r"\b(?i:a rotina|a tela|a transação|o programa|a aba|o menu|o caminho)\s+(?i:é|fica)\b"
)
FIRST_STEP = re.compile(
    r"^(?:e\s+|então,?\s+|aí\s+)?(?:(?:a|o)\s+)?(?:primeir[oa]|passo 1\b|passo um\b)", re.IGNORECASE
)
SCREEN_SHARE_START = _cue("compartilh\\w* (?:aqui |agora |de novo )*(?:a |minha |a minha |o |meu )?(?:tela|terminal)")
CONTINGENCY_START = re.compile(
    r"^(?:e\s+|mas\s+|só\s+)?(?:nesse caso|neste caso|em caso de|caso\s|se\s|senão|sem\s|cuidado)",
    re.IGNORECASE,
)
OBJECTIVE = _cue(
    "o objetivo", "objetivo desse", "objetivo deste", "vou mostrar como", "vamos ver como"
)
PREREQUISITE = _cue(
    "antes de começar",
    "antes de tudo",
    "pré-requisito",
    "pré-requisitos",
    "precisa ter",
    "tem que ter",
    "precisa estar",
    "garanta que",
    "garantir que",
)
PROBLEM = _cue(
    "erro",
    "erros",
    "falha",
    "falhas",
    "falhava",
    "falhando",
    "não funciona",
    "não funcionava",
    "(?:outro|segundo|terceiro) problema",
    "expirou",
    "expirad[oa]s?",
    "rejei(?:ção|tad[oa]|tou|tando)",
    "não encontrad[oa]",
    "deu problema",
    "tivemos um problema",
    "caiu",
    "caíam",
    "caem",
    "timeout",
    "estour\\w*",
    "indisponível",
    "fora do ar",
    "recusou",
    "recusa",
    "travou",
    "travando",
    "crashloopbackoff",
    "reiniciando",
    "too many",
    "acumul\\w*",
    "cresceu",
    "crescendo",
    "sem espaço",
    "disco cheio",
    "no space",
)
CAUSE = _cue("causa(?: raiz)? (?:foi|é|era)", "por causa d\\w+", "o motivo (?:foi|é|era)", "porque")
SOLUTION = _cue(
    "resolv\\w*",
    "a solução",
    "corrig\\w*",
    "contorn\\w*",
    "contenção",
    "workaround",
    "a proposta é",
)
PREVENTION = _cue(
    "evitar",
    "prevenir",
    "para não acontecer",
    "pra não acontecer",
    "aconteça de novo",
    "acontecer de novo",
    "daqui pra frente",
    "daqui para frente",
    "criar um alerta",
    "alerta quando",
    "monitorar",
)
ACTION_STRONG = _cue(
    "fico com",
    "fica comigo",
    "ficou de",
    "deixa comigo",
    "pode deixar",
    "próximo passo",
    "próximos passos",
    "action item",
    "responsável por",
)
META_QUESTION = _cue(
    "compartilhar a tela",
    "alguma dúvida",
    "mais alguma",
    "estão vendo",
    "me ouvem",
    "dá pra ver a tela",
)
ACTION_WEAK = _cue("vou", "vamos", "precisa", "precisamos", "a gente precisa", "tem que")
COMMITMENT_VERB = _cue(
    "criar",
    "atualizar",
    "mandar",
    "enviar",
    "documentar",
    "agendar",
    "revisar",
    "escrever",
    "configurar",
    "ajustar",
    "verificar",
    "testar",
    "subir",
    "abrir (?:um|o) (?:chamado|ticket)",
    "colocar",
    "mudar",
    "corrigir",
    "migrar",
    "validar",
    "publicar",
    "marcar",
)
DEADLINE = _cue(
    "até (?:segunda|terça|quarta|quinta|sexta|sábado|domingo)(?:-feira)?",
    "até amanhã",
    "até o fim do dia",
    "até o final do dia",
    "ainda hoje",
    "semana que vem",
    "próxima semana",
    "até o fim da semana",
    "depois da (?:call|chamada|reunião)",
    "(?:essa|esta|nesta|nessa) semana",
    "amanhã cedo",
)
FIRST_PERSON = _cue("eu", "vou", "fico", "comigo", "deixa comigo", "pode deixar", "consigo")
DOCUMENT_MENTION = re.compile(
    r"\b(?i:runbook|documentação|documento|manual|planilha|página|artigo|readme|playbook)\b"
    r"(?:\s+(?:de|do|da|dos|das)|(?=\s+[A-ZÀ-Ú]))"  # named: "runbook de ...", "página Inventário"
    r"(?:\s+(?!(?:que|vai|está|fica|foi|e|é|mas|com|para|pra|porque|existe|mesmo|onde|já|hoje)\b)"
    r"[\wÀ-ÿ-]+){1,6}",
)
DOCUMENT_FILE = re.compile(r"\b[\w-]+\.(?:pdf|docx?|xlsx?|pptx?|md|odt)\b", re.IGNORECASE)
# A sentence that goes on explaining what the previous one defined ("É diferente do ...").
DEFINITION_CONTINUES = re.compile(r"(?:É|São|Ela|Ele|Isso|Ou seja|Quer dizer)\b")
_PARTICIPLE = r"\w+(?:ados?|adas?|idos?|idas?|orto|orta|sto|sta)\b"  # "é morto": passive, not a definition
_ASCII_COMPOUND_RE = re.compile(r"[a-z]{2,}(?:-[a-z]{2,})+")  # "back-off", "write-ahead"
DEFINITION = r"(?:\s+\S+){0,2}?\s+(?:é|são|significa|significam|quer dizer|serve para|serve pra)\s"

UNIT_WORDS = 60  # a TextTiling "pseudo-sentence" block: a few segments of speech
COHESION_WINDOW = 3  # blocks compared on each side of a gap
MINUTES_PER_TOPIC = 4
MAX_TOPICS = 20
MAX_KEY_POINTS = 4
MAX_LIST_ITEMS = 4
MAX_GLOSSARY = 15
MAX_GLOSSARY_MENTIONS = 5
PROCEDURE_MAX_GAP = 90.0  # seconds between two steps of the same procedure
PROCEDURE_MAX_INTERRUPTION = 8  # other sentences said between two steps of the same procedure
PROBLEM_MAX_GAP = 120.0  # seconds between two symptoms of the same problem
PROBLEM_WINDOW = (
    600.0  # seconds after the last symptom in which its cause and solution are looked for
)


@dataclass(slots=True)
class _Sentence:
    index: int
    segment: int
    start: float
    end: float
    speaker: str | None
    text: str
    stems: list[str]
    n_words: int
    n_fragments: int
    has_command: bool
    prose: str = ""  # the text with its technical fragments cut out

    @property
    def is_question(self) -> bool:
        return self.text.rstrip().endswith("?")


@dataclass(slots=True)
class _Block:
    first: int  # sentence indices, inclusive
    last: int
    stems: Counter[str] = field(default_factory=Counter)
    starts_with_cue: bool = False


@dataclass(slots=True)
class _TopicSpan:
    first: int
    last: int
    salience: dict[str, float] = field(default_factory=dict)


class OfflineWriter:
    """The `Writer` for the local profile: rules over the transcript, no model, no cost."""

    name = WRITER_NAME

    def write(self, transcript: Transcript, context: WritingContext) -> Draft:
        return _Composer(transcript).draft(context)


class _Composer:
    def __init__(self, transcript: Transcript):
        self.transcript = transcript
        self.sentences = self._sentences()
        self.participants = transcript.speakers
        self.name_stems = {stem(w) for p in self.participants for w in words(p)}
        # How each stem is written most often, to show terms as they were said.
        self.surfaces: dict[str, Counter[str]] = {}
        for sentence in self.sentences:
            for w in words(sentence.text):
                self.surfaces.setdefault(stem(w), Counter())[w] += 1
        # Lowercase words said after an article ("o limite"): nouns of this call. Capitalized
        # words said mid-sentence: names of screens, places, products.
        self.nouns: set[str] = set()
        self.proper: set[str] = set()
        for sentence in self.sentences:
            tokens = words(sentence.prose)
            for i, w in enumerate(tokens):
                if i and tokens[i - 1].lower() in NOUN_OPENERS and w.islower():
                    if is_title_word(w) and not _STEP_VERB_WORD.fullmatch(w):
                        self.nouns.add(w)
                elif i and w[:1].isupper() and not w.isupper():
                    self.proper.add(w)
        self.technical_stems = {
            s for s, forms in self.surfaces.items() if is_technical_term(forms.most_common(1)[0][0])
        }
        # Sentence-level document frequency, for the call-wide weight of a term.
        sentence_df: Counter[str] = Counter()
        for sentence in self.sentences:
            sentence_df.update(set(sentence.stems))
        n = max(len(self.sentences), 1)
        self.idf = {s: math.log((n + 1) / (df + 0.5)) for s, df in sentence_df.items()}

    # ---- preparation -------------------------------------------------------------------

    def _sentences(self) -> list[_Sentence]:
        out: list[_Sentence] = []
        for seg_index, segment in enumerate(self.transcript.segments):
            for text in split_sentences(segment.text):
                fragments = find_fragments(text)
                # A command's arguments are not topic words; its program is.
                prose = text
                programs: list[str] = []
                for fragment in reversed(fragments):
                    if fragment.kind == "command":
                        program = text[fragment.start : fragment.end].split()[0]
                        if program in CLI_PROGRAMS:
                            programs.append(program)
                    prose = prose[: fragment.start] + " ; " + prose[fragment.end :]
                out.append(
                    _Sentence(
                        index=len(out),
                        segment=seg_index,
                        start=segment.start,
                        end=segment.end,
                        speaker=segment.speaker,
                        text=text,
                        stems=[stem(w) for w in [*content_words(prose), *programs]],
                        n_words=len(text.split()),
                        n_fragments=len(fragments),
                        has_command=any(f.kind == "command" for f in fragments),
                        prose=prose,
                    )
                )
        return out

    def _surface(self, stem_: str) -> str:
        """The form a stem is said in most often, other than a stopword ("comando", not "com")."""
        forms = self.surfaces[stem_].most_common()
        return next((w for w, _ in forms if w.lower() not in STOPWORDS), forms[0][0])

    def _weight(self, stem_: str) -> float:
        boost = 1.5 if stem_ in self.technical_stems else 1.0
        return self.idf.get(stem_, 0.0) * boost

    def _is_name(self, stem_: str) -> bool:
        return stem_ in self.name_stems

    # ---- topics ------------------------------------------------------------------------

    def _blocks(self) -> list[_Block]:
        """Runs of whole segments of about UNIT_WORDS words; a segment with a cue phrase starts one."""
        by_segment: dict[int, list[_Sentence]] = {}
        for sentence in self.sentences:
            by_segment.setdefault(sentence.segment, []).append(sentence)
        blocks: list[_Block] = []
        current: _Block | None = None
        n_words = 0
        for sentences in by_segment.values():
            cue = any(TOPIC_SHIFT.search(s.text) for s in sentences)
            if current is None or n_words >= UNIT_WORDS or (cue and n_words >= 15):
                current = _Block(
                    first=sentences[0].index, last=sentences[0].index, starts_with_cue=cue
                )
                blocks.append(current)
                n_words = 0
            current.last = sentences[-1].index
            for s in sentences:
                current.stems.update(s.stems)
                n_words += s.n_words
        return blocks

    def topics(self) -> list[_TopicSpan]:
        if not self.sentences:
            return []
        blocks = self._blocks()
        duration_minutes = (self.sentences[-1].end - self.sentences[0].start) / 60
        max_topics = max(1, min(MAX_TOPICS, round(duration_minutes / MINUTES_PER_TOPIC)))
        boundaries = _cohesion_boundaries(blocks, max_topics) if len(blocks) > 1 else []
        starts = [0, *(blocks[b].first for b in boundaries)]
        ends = [s - 1 for s in starts[1:]] + [len(self.sentences) - 1]
        spans = [_TopicSpan(first, last) for first, last in zip(starts, ends, strict=True)]
        # Salience of a term in a topic: its frequency there, discounted when every topic uses it.
        tfs = [
            Counter(s for i in range(t.first, t.last + 1) for s in self.sentences[i].stems)
            for t in spans
        ]
        df = Counter(s for tf in tfs for s in tf)
        for span, tf in zip(spans, tfs, strict=True):
            idf = {s: math.log((len(spans) + 1) / df[s]) + 0.1 for s in tf}
            span.salience = {
                s: count * idf[s] * (2.0 if s in self.technical_stems else 1.0)
                for s, count in tf.items()
                if not self._is_name(s)
            }
        return spans

    def _top_terms(self, salience: dict[str, float], n: int) -> list[str]:
        """The n most salient terms that can name a subject (nouns and technical terms)."""
        ranked = sorted(salience.items(), key=lambda item: (-item[1], item[0]))
        terms: list[str] = []
        for stem_, _ in ranked:
            surface = self._surface(stem_)
            if self._can_title(surface):
                terms.append(surface)
                if len(terms) == n:
                    break
        return terms

    def _can_title(self, word: str) -> bool:
        """A technical term, a name said mid-sentence, or a noun said after an article.

        Verb forms ("entro", "saí", "cruza") are never said after an article, so they never
        title a section, whatever their ending.
        """
        if not is_title_word(word) or _STEP_VERB_WORD.fullmatch(word):
            return False
        if is_technical_term(word) or word in self.proper or word in _TITLE_PROGRAMS:
            return True
        return word.lower() in self.nouns

    def _title(
        self,
        sentences: list[_Sentence],
        salience: dict[str, float],
        *,
        reach: int = 5,
        tool: bool = False,
    ) -> str:
        """A section title in the call's words: its most salient noun phrase ("limite de
        memória do container"), else its one to three most salient terms ("DNS e MTU").

        The phrase must hold one of the `reach` most salient terms. With `tool`, the command-line program used most in the sentences is added ("... com
        kubectl") when the phrase does not name it already.
        """
        ranked = self._top_terms(salience, max(reach, 3))
        terms = ranked[:3]
        top = {stem(t) for t in ranked[:reach]}
        scores: dict[tuple[str, ...], float] = {}
        surfaces: dict[tuple[str, ...], str] = {}
        for sentence in sentences:
            for phrase, content in title_phrases(sentence.prose, self.nouns.__contains__):
                stems = tuple(stem(w) for w in content)
                if len(stems) < 2 or not top.intersection(stems):
                    continue
                if any(self._is_name(s) for s in stems):
                    continue
                weight = sum(salience.get(s, 0.0) for s in set(stems))
                scores[stems] = scores.get(stems, 0.0) + weight
                surfaces.setdefault(stems, phrase)
        if scores:
            best = min(scores, key=lambda k: (-scores[k], len(k), surfaces[k]))
            title = surfaces[best]
            named = set(best)
        else:
            # Last resort: any noun-like word, as the call says it.
            terms = terms or [
                self._surface(s)
                for s, _ in sorted(salience.items(), key=lambda item: (-item[1], item[0]))
                if is_title_word(self._surface(s))
                and not _STEP_VERB_WORD.fullmatch(self._surface(s))
            ][:3]
            title = _join_terms(terms)
            named = {stem(t) for t in terms}
        if tool and title:
            programs = Counter(
                s
                for sentence in sentences
                if sentence.has_command
                for s in sentence.stems
                if s in _PROGRAM_STEMS and self._surface(s) in _TITLE_PROGRAMS
            )
            program = next((p for p, _ in programs.most_common(1)), None)
            if program and program not in named:
                title += f" com {self._surface(program)}"
        return title

    def _key_sentences(
        self, first: int, last: int, n: int, salience: dict[str, float]
    ) -> list[_Sentence]:
        def score(sentence: _Sentence) -> float:
            unique = set(sentence.stems)
            if not unique:
                return 0.0
            return (
                sum(salience.get(s, 0.0) for s in unique) / math.sqrt(len(unique))
                + sentence.n_fragments
            )

        candidates = [
            s
            for s in self.sentences[first : last + 1]
            if 8 <= s.n_words <= 60 and not s.is_question and not DECISION.search(s.text)
        ]
        best = sorted(candidates, key=lambda s: (-score(s), s.index))[:n]
        return sorted(best, key=lambda s: s.index)

    def _speakers_between(self, first: int, last: int) -> list[str]:
        counts = Counter(s.speaker for s in self.sentences[first : last + 1] if s.speaker)
        return [name for name, _ in counts.most_common(3)]

    def build_topics(self, spans: list[_TopicSpan]) -> list[Topic]:
        topics: list[Topic] = []
        for span in spans:
            first, last = self.sentences[span.first], self.sentences[span.last]
            terms = self._top_terms(span.salience, 5)
            title = (
                self._title(self.sentences[span.first : span.last + 1], span.salience, reach=3)
                or "Abertura"
            )
            speakers = self._speakers_between(span.first, span.last)
            description = (
                f"Trecho de {format_timestamp(first.start)} a {format_timestamp(last.end)}"
            )
            if speakers:
                description += f", com falas principalmente de {_join_terms(speakers)}"
            if terms:
                description += f". Termos centrais: {_join_terms(terms)}."
            else:
                description += "."
            decisions = [
                quote_technical(s.text)
                for s in self.sentences[span.first : span.last + 1]
                if DECISION.search(s.text) and not s.is_question
            ]
            topics.append(
                Topic(
                    title=_capitalized(title),
                    time_range=TimeRange(start=first.start, end=last.end),
                    description=description,
                    key_points=[
                        quote_technical(s.text)
                        for s in self._key_sentences(
                            span.first, span.last, MAX_KEY_POINTS, span.salience
                        )
                    ],
                    decisions=decisions,
                )
            )
        return topics

    # ---- procedures --------------------------------------------------------------------

    def _step_evidence(self, sentence: _Sentence) -> str | None:
        """Why a sentence is a step ("command", "action", "sequence"), or None if it is not one."""
        text = sentence.text
        if (
            sentence.is_question
            or sentence.n_words < 3
            or CONTINGENCY_START.search(text)
            or DEADLINE.search(text)  # a commitment ("... até sexta"), not a step
        ):
            return None
        if sentence.has_command:
            return "command"
        if STEP_VERB.search(text) or MENU_PATH.search(text) or STEP_INTENT.search(text):
            return "action"
        if SEQUENCE_START.search(text) and not TOPIC_SHIFT.search(text) and sentence.n_words >= 4:
            return "sequence"
        if SCREEN_NAME.search(text):
            return "context"
        return None

    def _is_step(self, sentence: _Sentence) -> bool:
        return self._step_evidence(sentence) is not None

    def procedures(self) -> list[Procedure]:
        """Runs of steps said close together: commands, screen actions and sequence cues.

        A run is a procedure when it has two commands, or three steps of which two act on a
        screen or a terminal, or a command with an action or sequence cue around it; a topic
        shift or a fresh "primeiro" starts a new run.
        """
        groups: list[list[tuple[_Sentence, str]]] = []
        new_subject = False  # a topic shift or a new screen shared since the last step
        between = 0  # sentences said since the last step
        for sentence in self.sentences:
            evidence = self._step_evidence(sentence)
            if SCREEN_SHARE_START.search(sentence.text):
                new_subject = True
            if evidence is None:
                if TOPIC_SHIFT.search(sentence.text):
                    new_subject = True
                if sentence.n_words >= 4:  # "Tô.", "Exatamente." do not interrupt
                    between += 1
                continue
            gap = sentence.start - groups[-1][-1][0].end if groups else math.inf
            # "Aí o segundo passo foi ..." resumes a procedure after a digression, and a
            # command follows the commands before it however much was explained in between.
            resumes = evidence == "sequence" or bool(SEQUENCE_START.search(sentence.text))
            in_a_row = evidence == "command" and any(e == "command" for _, e in groups[-1]) if groups else False
            if (
                groups
                and not FIRST_STEP.match(sentence.text)
                and not (new_subject and not resumes)
                and (between <= PROCEDURE_MAX_INTERRUPTION or resumes or in_a_row)
                and (gap <= PROCEDURE_MAX_GAP or (resumes and gap <= 3 * PROCEDURE_MAX_GAP))
            ):
                groups[-1].append((sentence, evidence))
            else:
                groups.append([(sentence, evidence)])
            new_subject = False
            between = 0
        procedures: list[Procedure] = []
        for group in groups:
            kinds = Counter(evidence for _, evidence in group)
            acting = kinds["command"] + kinds["action"]
            if (
                kinds["command"] >= 2
                or (len(group) >= 3 and acting >= 2)
                or (len(group) >= 2 and kinds["command"] >= 1 and acting >= 2)
                or (len(group) >= 2 and kinds["command"] >= 1 and kinds["sequence"] >= 1)
            ):
                procedures.append(self._procedure([s for s, _ in group]))
        return procedures

    def _procedure(self, steps: list[_Sentence]) -> Procedure:
        start, end = steps[0].start, steps[-1].end
        step_indices = {s.index for s in steps}
        first = steps[0].index
        while first > 0 and self.sentences[first - 1].start >= start - 120:
            first -= 1
        lead_in = [
            s
            for s in self.sentences[first : steps[-1].index + 1]
            if s.index not in step_indices and not s.is_question
        ]
        objective = next((s for s in lead_in if OBJECTIVE.search(s.text)), None)
        return Procedure(
            title=f"Procedimento: {self._title(steps, self._weighted(steps), tool=True)}",
            time_range=TimeRange(start=start, end=end),
            objective=quote_technical(objective.text)
            if objective
            else f"Reproduzir os passos mostrados entre {format_timestamp(start)} e {format_timestamp(end)}.",
            prerequisites=[quote_technical(s.text) for s in lead_in if PREREQUISITE.search(s.text)][
                :MAX_LIST_ITEMS
            ],
            steps=[Step(text=quote_technical(s.text), at=s.start) for s in steps],
        )

    def _weighted(self, sentences: list[_Sentence]) -> dict[str, float]:
        counts: Counter[str] = Counter()
        for sentence in sentences:
            counts.update(s for s in sentence.stems if not self._is_name(s))
        return {s: count * self._weight(s) for s, count in counts.items()}

    # ---- troubleshooting ---------------------------------------------------------------

    def _is_statement(self, sentence: _Sentence) -> bool:
        """A sentence that says something about the subject (not a question, a cue or a demo step)."""
        text = sentence.text
        return not (
            sentence.is_question
            or sentence.n_words < 6
            or TOPIC_SHIFT.search(text)
            or OBJECTIVE.search(text)
            or DECISION.search(text)
        )

    def troubleshooting(self) -> list[Problem]:
        """Problems: clusters of symptom sentences, each with the cause and the solution said after it."""
        statements = [s for s in self.sentences if self._is_statement(s)]
        symptom_groups: list[list[_Sentence]] = []
        resolved = False  # a cause or a solution was said since the last symptom
        for s in statements:
            if not PROBLEM.search(s.text) or SOLUTION.search(s.text) or self._is_step(s):
                stated_cause = CAUSE.search(s.text) and not re.search(
                    r"\bporque\b", s.text, re.IGNORECASE
                )
                if symptom_groups and (SOLUTION.search(s.text) or stated_cause):
                    resolved = True
                continue
            # A symptom after the previous one's cause or solution is a new problem.
            if (
                symptom_groups
                and not resolved
                and s.start - symptom_groups[-1][-1].end <= PROBLEM_MAX_GAP
            ):
                symptom_groups[-1].append(s)
            else:
                symptom_groups.append([s])
            resolved = False
        problems: list[tuple[Problem, set[str]]] = []
        used: set[int] = set()
        for number, symptoms in enumerate(symptom_groups):
            window_end = symptoms[-1].end + PROBLEM_WINDOW
            if number + 1 < len(symptom_groups):
                window_end = min(window_end, symptom_groups[number + 1][0].start)
            window = [
                s
                for s in statements
                if symptoms[0].start <= s.start < window_end and s.index not in used
            ]
            causes = [s for s in window if CAUSE.search(s.text)]
            # "a causa foi" says it outright; "porque" only explains something.
            stated = [
                s for s in causes if not re.search(r"\bporque\b", s.text, re.IGNORECASE)
            ] or causes
            cause = max(stated, key=lambda s: (len(s.stems), -s.index)) if stated else None
            solutions = [s for s in window if SOLUTION.search(s.text) and s is not cause]
            if not (cause or solutions):
                continue
            used.update(s.index for s in [*symptoms, *solutions] + ([cause] if cause else []))
            problem = Problem(
                title=f"Problema: {self._title(symptoms, self._weighted(symptoms))}",
                time_range=TimeRange(
                    start=symptoms[0].start,
                    end=max(s.end for s in [*symptoms, *solutions] + ([cause] if cause else [])),
                ),
                symptoms=[quote_technical(s.text) for s in symptoms if s is not cause][
                    :MAX_LIST_ITEMS
                ],
                root_cause=quote_technical(cause.text) if cause else "",
                solution=[quote_technical(s.text) for s in solutions[:MAX_LIST_ITEMS]],
            )
            vocabulary = {
                x for s in [*symptoms, *solutions] + ([cause] if cause else []) for x in s.stems
            }
            problems.append((problem, vocabulary))
        # Prevention is often discussed later, for several problems at once: each sentence goes to
        # a problem it follows closely, or else to the one whose vocabulary it shares most.
        for s in statements:
            if not problems or not PREVENTION.search(s.text):
                continue
            overlap = [
                sum(self._weight(x) for x in set(s.stems) & vocabulary)
                for _, vocabulary in problems
            ]
            distance = [abs(s.start - p.time_range.end) for p, _ in problems]
            near = [
                i
                for i, (p, _) in enumerate(problems)
                if p.time_range.start <= s.start <= p.time_range.end + PROBLEM_WINDOW
            ]
            if near:
                # The problem the sentence follows (the latest one begun before it) keeps it,
                # unless an earlier one shares clearly more of its vocabulary.
                latest = max(near, key=lambda i: problems[i][0].time_range.start)
                best = max(near, key=lambda i: (overlap[i], -distance[i]))
                chosen = best if overlap[best] > 2 * overlap[latest] else latest
            else:
                candidates = [i for i in range(len(problems)) if overlap[i] > 0]
                if not candidates:
                    continue
                chosen = max(candidates, key=lambda i: (overlap[i], -distance[i]))
            target = problems[chosen][0]
            if len(target.prevention) < MAX_LIST_ITEMS:
                target.prevention.append(quote_technical(s.text))
        return [problem for problem, _ in problems]

    # ---- questions, actions, references, glossary ---------------------------------------

    def questions(self) -> list[QuestionAnswer]:
        segments = self.transcript.segments
        by_segment: dict[int, list[_Sentence]] = {}
        for sentence in self.sentences:
            by_segment.setdefault(sentence.segment, []).append(sentence)
        pairs: list[QuestionAnswer] = []
        for index, segment in enumerate(segments):
            own = by_segment.get(index, [])
            if not own or not own[-1].is_question:
                continue
            first = len(own) - 1
            while first > 0 and own[first - 1].is_question:
                first -= 1
            if sum(s.n_words for s in own[first:]) < 6 and first > 0:
                first -= 1
            question = " ".join(s.text for s in own[first:])
            # Tag questions ("né?", "beleza?") and requests about the call itself are not questions
            # about the subject.
            if len(question.split()) < 4 or META_QUESTION.search(question):
                continue
            answer_index = next(
                (
                    j
                    for j in range(index + 1, min(index + 4, len(segments)))
                    if segments[j].speaker != segment.speaker or segment.speaker is None
                ),
                None,
            )
            if answer_index is None:
                continue
            answer_sentences: list[_Sentence] = []
            for s in by_segment.get(answer_index, [])[:3]:
                if TOPIC_SHIFT.search(s.text):
                    break
                answer_sentences.append(s)
            answer = " ".join(s.text for s in answer_sentences)
            if not answer_sentences or answer_sentences[0].is_question or len(answer.split()) < 4:
                continue
            pairs.append(
                QuestionAnswer(
                    question=quote_technical(question),
                    answer=quote_technical(answer),
                    at=segment.start,
                    asked_by=segment.speaker,
                    answered_by=segments[answer_index].speaker,
                )
            )
        return pairs

    def _named_owner(self, text: str, speaker: str | None) -> tuple[str | None, bool]:
        """A participant other than the speaker who is given the task, and whether the
        sentence assigns it outright ("o Bruno fica com", "fica com a Carla")."""
        for participant in self.participants:
            if participant == speaker:
                continue
            name = re.escape(participant.split()[0])
            if re.search(
                rf"\b{name}\s+(?:fica com|ficou de)\b|\bfica com (?:o |a )?{name}\b", text
            ):
                return participant, True
            if re.search(rf"\b{name}\s+(?:vai|pode)\b|^{name},\s+você", text):
                return participant, False
        return None, False

    def action_items(self) -> list[ActionItem]:
        items: list[ActionItem] = []
        seen: set[str] = set()
        for sentence in self.sentences:
            text = sentence.text
            if (
                sentence.is_question
                or sentence.n_words < 4
                or DECISION.search(text)
                or TOPIC_SHIFT.search(text)
            ):
                continue
            named, assigned = self._named_owner(text, sentence.speaker)
            task = DEADLINE.search(text) or COMMITMENT_VERB.search(text)
            committed = task and (ACTION_WEAK.search(text) or named)
            if not (assigned or ACTION_STRONG.search(text) or committed) or text.lower() in seen:
                continue
            seen.add(text.lower())
            owner = named or (sentence.speaker if FIRST_PERSON.search(text) else None)
            items.append(ActionItem(text=quote_technical(text), owner=owner, at=sentence.start))
        return items

    def references(self) -> list[Reference]:
        references: list[Reference] = []
        seen: set[str] = set()
        for sentence in self.sentences:
            who = f" por {sentence.speaker}" if sentence.speaker else ""
            for m in URL_RE.finditer(sentence.text):
                url = m.group().rstrip(".,;:!?)")
                if url not in seen:
                    seen.add(url)
                    references.append(
                        Reference(text=f"Link citado{who}", url=url, at=sentence.start)
                    )
            for m in TICKET_RE.finditer(sentence.text):
                if m.group() not in seen:
                    seen.add(m.group())
                    references.append(
                        Reference(text=f"Chamado/ticket {m.group()}", at=sentence.start)
                    )
            mentions = [m.group() for m in DOCUMENT_MENTION.finditer(sentence.text)]
            mentions += [m.group() for m in DOCUMENT_FILE.finditer(sentence.text)]
            for phrase in mentions:
                phrase = re.sub(r"\s+(?:de|do|da|dos|das|no|na)$", "", phrase.strip())
                if phrase.lower() not in seen and not URL_RE.search(phrase):
                    seen.add(phrase.lower())
                    references.append(
                        Reference(
                            text=f"Documento citado: {quote_technical(phrase)}", at=sentence.start
                        )
                    )
        return references

    def glossary(self) -> list[GlossaryTerm]:
        """Terms the call explains: "X é ...", "X significa ...", an acronym spelled out, or the
        answer to "o que é X?". Terms only mentioned are left out unless nothing is explained."""
        counts: Counter[str] = Counter()
        forms: dict[str, Counter[str]] = {}
        first_seen: dict[str, float] = {}
        sentences_by_key: dict[str, list[_Sentence]] = {}
        for sentence in self.sentences:
            prose = sentence.text
            # Commands, URLs and paths are quoted as they are; their parts are not glossary terms.
            for fragment in reversed(find_fragments(prose)):
                prose = prose[: fragment.start] + " " + prose[fragment.end :]
            for w in words(prose):
                if w.lower().endswith("s") and w.lower()[:-1] in ENGLISH_TECH_WORDS:
                    w = w[:-1]
                key = w.lower()
                technical = (
                    is_technical_term(w)
                    or key in ENGLISH_TECH_WORDS
                    or bool(_ASCII_COMPOUND_RE.fullmatch(w))
                )
                if not technical or key in STOPWORDS or key == "ok" or TICKET_RE.fullmatch(w):
                    continue
                if self._is_name(stem(key)):
                    continue
                counts[key] += 1
                forms.setdefault(key, Counter())[w] += 1
                first_seen.setdefault(key, sentence.start)
                bucket = sentences_by_key.setdefault(key, [])
                if not bucket or bucket[-1] is not sentence:
                    bucket.append(sentence)
        defined: dict[str, str] = {}
        for key in counts:
            term = forms[key].most_common(1)[0][0]
            explanation = self._explanation(term, sentences_by_key[key])
            if explanation:
                defined[key] = explanation
        ranked = sorted(defined, key=lambda k: (-counts[k], first_seen[k], k))[:MAX_GLOSSARY]
        if not ranked:
            # Nothing explained: the few most repeated terms, marked as mentions only.
            recurring = [k for k, c in counts.items() if c >= 2 and not _ASCII_COMPOUND_RE.fullmatch(k)]
            recurring.sort(key=lambda k: (-counts[k], first_seen[k], k))
            ranked = recurring[:MAX_GLOSSARY_MENTIONS]
        terms: list[GlossaryTerm] = []
        for key in sorted(ranked, key=lambda k: k.casefold()):
            term = forms[key].most_common(1)[0][0]
            definition = defined.get(key) or (
                f"Termo citado em [{format_timestamp(first_seen[key])}] "
                f"({counts[key]} menções na chamada)."
            )
            terms.append(GlossaryTerm(term=term, definition=definition))
        return terms

    def _explanation(self, term: str, mentions: list[_Sentence]) -> str | None:
        """The call's own explanation of a term, quoted with its time, or None."""
        escaped = re.escape(term)
        # The term is the subject: "O MTU é ...", "Pra quem não conhece: OOMKilled quer dizer ...",
        # not "Se essa mensagem ICMP é bloqueada ...".
        definition_re = re.compile(
            rf"^(?:(?!(?:se|quando|porque|que|como|mas|caso)\s)\S+\s+){{0,4}}?{escaped}{DEFINITION}(?!{_PARTICIPLE})"
            rf"|[,:;]\s+(?:e\s+)?(?:o|a|os|as)\s+{escaped}{DEFINITION}(?!{_PARTICIPLE})",
            re.IGNORECASE,
        )
        asked_re = re.compile(
            rf"\bo que (?:é|são|significa)\s+(?:o |a |os |as |um |uma )?{escaped}\b"
            rf"|\b{escaped}\s+(?:é|são|significa)\s+o qu[eê]\b",
            re.IGNORECASE,
        )
        initials = term if re.fullmatch(r"[A-Z]{2,6}", term) else None
        for sentence in mentions:
            if not sentence.is_question and sentence.n_words >= 7 and (
                definition_re.search(sentence.text)
                or (initials and _spells(initials, sentence.text))
            ):
                return self._quoted_definition(sentence)
        # No one defined it outright: the answer when someone asked what it is.
        for sentence in mentions:
            if sentence.is_question and asked_re.search(sentence.text):
                answer = self._answer_to(sentence)
                if answer is not None:
                    return self._quoted_definition(answer)
        return None

    def _answer_to(self, question: _Sentence) -> _Sentence | None:
        """The first statement another participant says within a few sentences of a question."""
        for sentence in self.sentences[question.index + 1 : question.index + 8]:
            if sentence.speaker != question.speaker and not sentence.is_question:
                return sentence if sentence.n_words >= 3 else None
        return None

    def _quoted_definition(self, sentence: _Sentence) -> str:
        """The defining sentence, with the next one when it goes on about the same thing."""
        text = sentence.text
        following = (
            self.sentences[sentence.index + 1] if sentence.index + 1 < len(self.sentences) else None
        )
        if (
            following is not None
            and following.segment == sentence.segment
            and not following.is_question
            and DEFINITION_CONTINUES.match(following.text)
            and len(text.split()) + following.n_words <= 60
        ):
            text = f"{text} {following.text}"
        return f"{quote_technical(text)} ({format_timestamp(sentence.start)})"

    # ---- summary and draft -------------------------------------------------------------

    def executive_summary(
        self,
        topics: list[Topic],
        procedures: list[Procedure],
        problems: list[Problem],
        questions: list[QuestionAnswer],
        actions: list[ActionItem],
        duration: float,
    ) -> list[str]:
        if not self.sentences:
            return ["A transcrição desta chamada não tem falas."]
        global_salience: Counter[str] = Counter()
        for sentence in self.sentences:
            global_salience.update(s for s in sentence.stems if not self._is_name(s))
        weighted = {s: count * self._weight(s) for s, count in global_salience.items()}
        themes = self._top_terms(weighted, 5)
        people = (
            _join_terms(self.participants)
            if self.participants
            else "participantes não identificados"
        )
        first = (
            f"Chamada de {_human_duration(duration)} com {len(self.participants)} participante(s) ({people}), "
            f"centrada em {_join_terms(themes)}. Os tópicos, em ordem, foram: "
            + "; ".join(t.title for t in topics)
            + "."
        )
        highlights = self._key_sentences(0, len(self.sentences) - 1, 3, weighted)
        second = "Falas centrais: " + " ".join(
            f"{s.speaker or 'Participante'} ({format_timestamp(s.start)}): “{quote_technical(s.text)}”"
            for s in highlights
        )
        decisions = [d for t in topics for d in t.decisions]
        third = (
            f"O documento reúne {len(decisions)} decisão(ões), {len(procedures)} procedimento(s), "
            f"{len(problems)} problema(s) com diagnóstico, {len(questions)} pergunta(s) respondida(s) "
            f"e {len(actions)} action item(s)."
        )
        if decisions:
            third += f" Primeira decisão registrada: “{decisions[0]}”"
        return [first, second, third] if highlights else [first, third]

    def draft(self, context: WritingContext) -> Draft:
        duration = context.media_duration or self.transcript.duration or self.transcript.spoken_end
        spans = self.topics()
        topics = self.build_topics(spans)
        procedures = self.procedures()
        problems = self.troubleshooting()
        questions = self.questions()
        actions = self.action_items()
        document = Document(
            header=DocumentHeader(
                source_name=context.source_name,
                call_date=context.call_date,
                duration_seconds=duration,
                participants=self.participants,
                writer=WRITER_NAME,
                written_offline=True,
            ),
            executive_summary=self.executive_summary(
                topics, procedures, problems, questions, actions, duration
            ),
            topics=topics,
            procedures=procedures,
            troubleshooting=problems,
            questions=questions,
            action_items=actions,
            references=self.references(),
            glossary=self.glossary(),
        )
        chunk_notes = [
            {
                "topic": topic.title,
                "start": topic.time_range.start,
                "end": topic.time_range.end,
                "speakers": self._speakers_between(span.first, span.last),
                "terms": self._top_terms(span.salience, 8),
                "sentences": span.last - span.first + 1,
            }
            for topic, span in zip(topics, spans, strict=True)
        ]
        outline = {
            "topics": [t.title for t in topics],
            "procedures": [p.title for p in procedures],
            "problems": [p.title for p in problems],
            "questions": len(questions),
            "action_items": len(actions),
            "references": len(document.references),
            "glossary": [g.term for g in document.glossary],
        }
        # The appendix is the transcript itself; the draft keeps only the written sections.
        sections = dict(list(render_sections(document, self.transcript).items())[:-1])
        return Draft(
            writer=WRITER_NAME,
            chunk_notes=chunk_notes,
            outline=outline,
            sections=sections,
            document=document,
        )


def _cohesion_boundaries(blocks: list[_Block], max_topics: int) -> list[int]:
    """Block indices where a new topic starts: deep valleys of lexical similarity (TextTiling)."""
    gaps = len(blocks) - 1
    similarity: list[float] = []
    for gap in range(gaps):
        left: Counter[str] = Counter()
        right: Counter[str] = Counter()
        for b in blocks[max(0, gap - COHESION_WINDOW + 1) : gap + 1]:
            left.update(b.stems)
        for b in blocks[gap + 1 : gap + 1 + COHESION_WINDOW]:
            right.update(b.stems)
        similarity.append(_cosine(left, right))
    depth: list[float] = []
    for gap, value in enumerate(similarity):
        left_peak = value
        for j in range(gap - 1, -1, -1):
            if similarity[j] < left_peak:
                break
            left_peak = similarity[j]
        right_peak = value
        for j in range(gap + 1, gaps):
            if similarity[j] < right_peak:
                break
            right_peak = similarity[j]
        depth.append((left_peak - value) + (right_peak - value))
    cutoff = mean(depth) - pstdev(depth) / 2 if depth else 0.0
    scored = []
    for gap, d in enumerate(depth):
        cue = blocks[gap + 1].starts_with_cue
        if d >= cutoff or cue:
            scored.append((d + (0.5 if cue else 0.0), gap))
    min_blocks = max(2, len(blocks) // (max_topics * 2))
    chosen: list[int] = []
    for _, gap in sorted(scored, key=lambda item: (-item[0], item[1])):
        if len(chosen) >= max_topics - 1:
            break
        boundary = gap + 1
        if boundary < min_blocks or len(blocks) - boundary < min_blocks:
            continue
        if all(abs(boundary - c) >= min_blocks for c in chosen):
            chosen.append(boundary)
    return sorted(chosen)


def _cosine(a: Counter[str], b: Counter[str]) -> float:
    if not a or not b:
        return 0.0
    small, large = (a, b) if len(a) < len(b) else (b, a)
    dot = sum(count * large.get(term, 0) for term, count in small.items())
    norm = math.sqrt(sum(c * c for c in a.values())) * math.sqrt(sum(c * c for c in b.values()))
    return dot / norm if norm else 0.0


def _spells(acronym: str, text: str) -> bool:
    """Whether the text spells the acronym out: "TES é Tipo de Entrada e Saída"."""
    capitals = r"[A-ZÀ-Ú][\wÀ-ÿ-]*"
    joiner = r"(?:\s+(?:de|do|da|dos|das|e|of|and|the|a|o)\s+|\s+)"
    for m in re.finditer(rf"{capitals}(?:{joiner}{capitals})+", text):
        letters = "".join(w[0] for w in re.findall(capitals, m.group()) if w != acronym)
        if acronym.upper() in letters.upper() and len(letters) <= len(acronym) + 1:
            if letters.upper().startswith(acronym.upper()):
                return True
    return False


def _capitalized(title: str) -> str:
    """Capital first letter, unless the title starts with a technical name whose case matters."""
    head = title.split(",")[0].split()[0] if title else ""
    lower = re.fullmatch(r"[a-zà-ÿ]+", head) and head not in CLI_PROGRAMS
    return title[:1].upper() + title[1:] if lower else title


def _join_terms(terms: list[str]) -> str:
    if len(terms) <= 1:
        return "".join(terms)
    return ", ".join(terms[:-1]) + " e " + terms[-1]


def _human_duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} minuto(s)"
    return f"{minutes // 60} h {minutes % 60:02d} min"
