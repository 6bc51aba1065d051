"""The sample training call `techne demo` records: who says what, and what the shared screen shows."""

from __future__ import annotations

from pydantic import BaseModel


class DemoLine(BaseModel):
    speaker: str
    text: str
    screen: str


SPEAKER_VOICES = {"Ana": "pt-br+f3", "Bruno": "pt-br+m3", "Carla": "pt-br+f4"}

TITLE_SCREEN = "Treinamento: incidentes no Kubernetes\nCluster de pagamentos"

DEMO_LINES: tuple[DemoLine, ...] = (
    DemoLine(speaker="Ana", text="Bom dia a todos. Hoje o treinamento é sobre como investigar um pod em CrashLoopBackOff no cluster de pagamentos.", screen=TITLE_SCREEN),
    DemoLine(speaker="Ana", text="O incidente de ontem foi registrado no ticket INC0012345 e o runbook está em https://wiki.techne.com.br/runbooks/pagamentos.", screen="Incidente INC0012345\nhttps://wiki.techne.com.br/runbooks/pagamentos"),
    DemoLine(speaker="Ana", text="Primeiro, abra o terminal e rode o comando kubectl get pods -n pagamentos para ver o estado dos pods.", screen="$ kubectl get pods -n pagamentos\napi-pagamentos-7d9f   0/1   CrashLoopBackOff   12"),
    DemoLine(speaker="Bruno", text="Ana, o que significa CrashLoopBackOff?", screen="$ kubectl get pods -n pagamentos\napi-pagamentos-7d9f   0/1   CrashLoopBackOff   12"),
    DemoLine(speaker="Ana", text="CrashLoopBackOff significa que o container inicia, falha e o Kubernetes espera cada vez mais antes de reiniciar.", screen="CrashLoopBackOff\ninicia -> falha -> espera -> reinicia"),
    DemoLine(speaker="Ana", text="Depois, rode kubectl describe pod api-pagamentos-7d9f -n pagamentos e procure a seção Last State.", screen="$ kubectl describe pod api-pagamentos-7d9f -n pagamentos\nLast State: Terminated  Reason: OOMKilled"),
    DemoLine(speaker="Carla", text="No nosso caso o erro foi OOMKilled. A causa raiz foi o limite de memória de 256Mi, pequeno demais para a nova versão.", screen="Reason: OOMKilled\nresources.limits.memory: 256Mi"),
    DemoLine(speaker="Ana", text="Em seguida, aumente o limite editando resources.limits.memory para 512Mi no arquivo deploy/pagamentos/values.yaml.", screen="deploy/pagamentos/values.yaml\nresources.limits.memory: 512Mi"),
    DemoLine(speaker="Ana", text="Por fim, aplique com helm upgrade api-pagamentos ./chart -f deploy/pagamentos/values.yaml e acompanhe com kubectl rollout status deployment/api-pagamentos -n pagamentos.", screen="$ helm upgrade api-pagamentos ./chart -f deploy/pagamentos/values.yaml\n$ kubectl rollout status deployment/api-pagamentos -n pagamentos"),
    DemoLine(speaker="Bruno", text="E se a nova versão continuar falhando, como a gente volta?", screen="$ kubectl rollout status deployment/api-pagamentos -n pagamentos\nWaiting for deployment rollout to finish"),
    DemoLine(speaker="Carla", text="Nesse caso o rollback é kubectl rollout undo deployment/api-pagamentos -n pagamentos, e a solução definitiva entra no próximo deploy.", screen="$ kubectl rollout undo deployment/api-pagamentos -n pagamentos\ndeployment.apps/api-pagamentos rolled back"),
    DemoLine(speaker="Ana", text="Para prevenir, decidimos configurar um alerta de uso de memória acima de oitenta por cento no Grafana.", screen="Prevenção\nAlerta de memória > 80% no Grafana"),
    DemoLine(speaker="Ana", text="Bruno, você fica com a atualização do runbook até sexta. Carla vai revisar os limites dos outros serviços.", screen="Próximos passos\nBruno: runbook até sexta\nCarla: revisar limites"),
    DemoLine(speaker="Bruno", text="Combinado. Obrigado, Ana.", screen="Obrigado!"),
)
