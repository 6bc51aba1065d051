#!/usr/bin/env bash
# Deploy the Techne Assets stack of one environment: infra/deploy.sh dev|prod
#
#   1. first deploy only: create the stack with the services at 0 tasks (ECR repository,
#      buckets, database... exist; no image is needed yet)
#   2. build the image (tag = git short sha) and push it to the stack's ECR repository
#   3. deploy the stack with that image tag and the services at 1 task
#
# Options:
#   --print-parameter-overrides   print the merged Key=Value overrides and exit (no AWS calls)
# Environment: AWS_REGION / AWS_PROFILE as usual; STACK_NAME (default techne-assets-<env>);
#   IMAGE_TAG (default: git short sha, plus a timestamp when the work tree is dirty).
set -euo pipefail

usage() { echo "usage: $0 dev|prod [--print-parameter-overrides]" >&2; exit 2; }
die() { echo "deploy: $*" >&2; exit 1; }

[ $# -ge 1 ] || usage
ENVIRONMENT=$1; shift
case "$ENVIRONMENT" in dev|prod) ;; *) usage ;; esac
PRINT_ONLY=0
for arg in "$@"; do
  case "$arg" in
    --print-parameter-overrides) PRINT_ONLY=1 ;;
    *) usage ;;
  esac
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TEMPLATE="$ROOT/infra/template.yaml"
PARAMS="$ROOT/infra/parameters/$ENVIRONMENT.json"
STACK=${STACK_NAME:-techne-assets-$ENVIRONMENT}
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
[ -x "$PYTHON" ] || PYTHON=python3
[ -f "$PARAMS" ] || die "no parameter file $PARAMS"

overrides() { "$PYTHON" "$ROOT/infra/params.py" "$PARAMS" "$@"; }

if [ "$PRINT_ONLY" = 1 ]; then
  overrides --set "ImageTag=${IMAGE_TAG:-bootstrap}"
  exit 0
fi

# ------------------------------------------------------------------ prerequisites
for tool in aws docker git; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required"
done
docker info >/dev/null 2>&1 || die "the docker daemon is not reachable"
[ -f "$ROOT/requirements.lock" ] || die "requirements.lock is missing (the image installs from it)"
ACCOUNT=$(aws sts get-caller-identity --query Account --output text) || die "no AWS credentials"
REGION=${AWS_REGION:-${AWS_DEFAULT_REGION:-$(aws configure get region || true)}}
[ -n "$REGION" ] || die "set AWS_REGION"
export AWS_REGION=$REGION
echo "deploy: stack $STACK, account $ACCOUNT, region $REGION"

if [ -z "${IMAGE_TAG:-}" ]; then
  IMAGE_TAG=$(git -C "$ROOT" rev-parse --short HEAD)
  if [ -n "$(git -C "$ROOT" status --porcelain)" ]; then
    IMAGE_TAG="$IMAGE_TAG-dirty-$(date -u +%Y%m%d%H%M%S)"
  fi
fi
[ -n "$IMAGE_TAG" ] || die "could not determine the image tag (git short sha)"

# ------------------------------------------------------------------ network (option A)
# "default" in the parameter file = the account's default VPC and its public subnets.
EXTRA=()
if [ "$(overrides --get NetworkMode)" = existing ]; then
  VPC=$(overrides --get VpcId)
  SUBNETS=$(overrides --get SubnetIds)
  if [ "$VPC" = default ]; then
    VPC=$(aws ec2 describe-vpcs --filters Name=isDefault,Values=true \
      --query 'Vpcs[0].VpcId' --output text)
    [ -n "$VPC" ] && [ "$VPC" != None ] || die "this account/region has no default VPC; set VpcId"
  fi
  if [ "$SUBNETS" = default ]; then
    SUBNETS=$(aws ec2 describe-subnets \
      --filters "Name=vpc-id,Values=$VPC" Name=map-public-ip-on-launch,Values=true \
      --query 'Subnets[].SubnetId' --output text | tr -s '\t ' ',')
    case "$SUBNETS" in *,*) ;; *) die "need public subnets in two AZs in $VPC, found: $SUBNETS" ;; esac
  fi
  EXTRA+=(--set "VpcId=$VPC" --set "SubnetIds=$SUBNETS")
fi

deploy_stack() {
  local lines
  lines=$(overrides "${EXTRA[@]}" "$@") || die "bad parameters"
  local -a pairs
  mapfile -t pairs <<<"$lines"
  aws cloudformation deploy \
    --template-file "$TEMPLATE" \
    --stack-name "$STACK" \
    --parameter-overrides "${pairs[@]}" \
    --capabilities CAPABILITY_NAMED_IAM \
    --no-fail-on-empty-changeset \
    --tags Project=techne-assets "Environment=$ENVIRONMENT"
}

output() {
  aws cloudformation describe-stacks --stack-name "$STACK" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}

# ------------------------------------------------------------------ 1. bootstrap
if ! STATUS=$(aws cloudformation describe-stacks --stack-name "$STACK" \
      --query 'Stacks[0].StackStatus' --output text 2>/dev/null); then
  echo "deploy: first deploy - creating the stack with the services at 0 tasks"
  deploy_stack --set ImageTag=bootstrap --set ServiceDesiredCount=0
elif [ "$STATUS" = ROLLBACK_COMPLETE ]; then
  die "stack $STACK is ROLLBACK_COMPLETE; delete it (infra/teardown.sh $ENVIRONMENT) and retry"
fi

# ------------------------------------------------------------------ 2. image
REPOSITORY_URI=$(output EcrRepositoryUri)
[ -n "$REPOSITORY_URI" ] || die "the stack has no EcrRepositoryUri output"
REPOSITORY_NAME=${REPOSITORY_URI#*/}
if aws ecr describe-images --repository-name "$REPOSITORY_NAME" \
     --image-ids "imageTag=$IMAGE_TAG" >/dev/null 2>&1; then
  echo "deploy: image $REPOSITORY_URI:$IMAGE_TAG already pushed"
else
  aws ecr get-login-password | docker login --username AWS --password-stdin "${REPOSITORY_URI%%/*}"
  docker build --platform linux/amd64 -t "$REPOSITORY_URI:$IMAGE_TAG" "$ROOT"
  docker push "$REPOSITORY_URI:$IMAGE_TAG"
fi

# ------------------------------------------------------------------ 3. release
deploy_stack --set "ImageTag=$IMAGE_TAG" --set ServiceDesiredCount=1

aws cloudformation describe-stacks --stack-name "$STACK" --query 'Stacks[0].Outputs' --output table
echo "deploy: done. Confirm the SNS subscription e-mail if this is the first deploy."
echo "deploy: open the UI with the WebserverAccess command above (SSM port forwarding)."
