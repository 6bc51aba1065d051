"""A deterministic synthetic 3-hour pt-BR technical call as WebVTT: ~30,000 words, 10 speakers."""

from __future__ import annotations

import random

SPEAKERS = ["Ana", "Bruno", "Carla", "Diego", "Elisa", "Fábio", "Gabriela", "Heitor", "Isabela", "João"]

OPENERS = [
    "Então, pessoal,", "Bom,", "Olha,", "Deixa eu mostrar aqui,", "Primeiro,", "Depois,",
    "Em seguida,", "Agora vamos falar de", "Uma dúvida:", "Na prática,", "Só pra reforçar,",
]
BODY = [
    "o pod do serviço de pagamentos entrou em CrashLoopBackOff depois do deploy",
    "a causa raiz foi o limite de memória configurado em resources.limits.memory",
    "roda o comando kubectl get pods -n pagamentos pra ver o estado",
    "abre o arquivo /etc/nginx/nginx.conf e confere o upstream",
    "o runbook está em https://wiki.techne.com.br/runbooks/pagamentos",
    "o erro que aparece no log é HTTP 503 vindo do balanceador",
    "a gente decidiu aumentar a réplica mínima para três",
    "clica em Configurações e depois em Parâmetros Fiscais",
    "o ticket do incidente é o INC0012345",
    "vale lembrar que o TTL do DNS estava em uma hora",
    "o traceroute mostrou perda de pacote no segundo salto",
    "a solução foi fazer rollback com kubectl rollout undo deployment/api-pagamentos",
    "isso evita que o alerta dispare de madrugada sem necessidade",
    "o Grafana mostra o uso de memória subindo até oitenta por cento",
    "o MTU da VPN estava em 1500 e precisava ser 1400",
]
CLOSERS = ["né?", "tá bom?", "certo?", "beleza.", "entendeu?", ".", ".", "."]


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def synthetic_call_vtt(*, words: int = 30_000, hours: float = 3.0, seed: int = 7) -> str:
    rng = random.Random(seed)
    cues: list[tuple[str, str]] = []
    total = 0
    speaker = SPEAKERS[0]
    while total < words:
        if rng.random() < 0.35:
            speaker = rng.choice(SPEAKERS)
        sentence = f"{rng.choice(OPENERS)} {rng.choice(BODY)} {rng.choice(CLOSERS)}".replace(" .", ".")
        if rng.random() < 0.5:
            sentence += f" {rng.choice(OPENERS)} {rng.choice(BODY)}."
        cues.append((speaker, sentence))
        total += len(sentence.split())
    seconds_per_word = hours * 3600 / total
    lines = ["WEBVTT", ""]
    clock = 0.0
    for index, (who, text) in enumerate(cues, start=1):
        length = len(text.split()) * seconds_per_word
        lines += [str(index), f"{_vtt_time(clock)} --> {_vtt_time(clock + length * 0.95)}", f"<v {who}>{text}", ""]
        clock += length
    return "\n".join(lines)
