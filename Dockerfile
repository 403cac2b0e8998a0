# bids-energy: one recipe for every pipeline; the base image is chosen at build time.
#
#   docker build -t bids-energy:fmriprep --build-arg PIPELINE=fmriprep .
#   docker build -t bids-energy:demo .          # demo/command image; PIPELINE=demo adds the [demo]
#                                               # extra (antspyx, nilearn) the demo pipeline needs
#   podman build -t bids-energy:fmriprep --build-arg BASE_IMAGE=docker.io/nipreps/fmriprep:24.1.1 .
#
# PIPELINE picks one of the pinned base stages below (table in docs/cluster.md); BASE_IMAGE
# overrides it with any image that has python3 >= 3.10 or a package manager to get one.
# Builders that do not resolve a stage named through an ARG (buildah/podman < 4.5) need
# BASE_IMAGE set to the image itself. WHEELHOUSE=<dir in the build context> installs offline
# from wheels (pip --no-index), as CI does.
ARG PIPELINE=demo
ARG BASE_IMAGE=base-${PIPELINE}

FROM nipreps/fmriprep:24.1.1 AS base-fmriprep
FROM deepmi/fastsurfer:gpu-v2.3.3 AS base-fastsurfer
FROM deepmi/fastsurfer:cpu-v2.3.3 AS base-fastsurfer-cpu
FROM freesurfer/freesurfer:7.4.1 AS base-freesurfer
FROM python:3.11-slim-bookworm AS base-demo
FROM python:3.11-slim-bookworm AS base-command

# hadolint ignore=DL3006
FROM ${BASE_IMAGE}
ARG PIPELINE
ARG BASE_IMAGE
ARG WHEELHOUSE=
ARG USER_NAME=bidsenergy
ARG USER_UID=1000
ARG IMAGE_NAME=bids-energy

LABEL org.opencontainers.image.title="bids-energy" \
      org.opencontainers.image.description="BIDS App measuring the energy and carbon of neuroimaging pipelines" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${BASE_IMAGE}"

# Pipeline images often end with a non-root USER; installing needs root.
# hadolint ignore=DL3002,DL3066
USER root
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

COPY . /tmp/bids-energy-src

# bids-energy lives in its own venv, so it cannot break the pipeline's Python (fMRIPrep's conda,
# FastSurfer's venv); only the bids-energy command is put on PATH.
# hadolint ignore=DL3008,DL3013,DL3032,DL3033,DL3040,DL3041
RUN PY=""; \
    for cand in python3.12 python3.11 python3.10 python3; do \
        if command -v "$cand" >/dev/null && "$cand" -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then \
            PY=$(command -v "$cand"); break; \
        fi; \
    done; \
    if [ -z "$PY" ] && command -v apt-get >/dev/null; then \
        apt-get update && apt-get install -y --no-install-recommends python3 python3-venv \
        && rm -rf /var/lib/apt/lists/* && PY=/usr/bin/python3; \
    elif [ -z "$PY" ] && command -v dnf >/dev/null; then \
        dnf install -y python3.11 && dnf clean all && PY=/usr/bin/python3.11; \
    elif [ -z "$PY" ] && command -v yum >/dev/null; then \
        yum install -y python3.11 && yum clean all && PY=/usr/bin/python3.11; \
    fi; \
    test -n "$PY" || { echo "no python >= 3.10 in ${BASE_IMAGE}" >&2; exit 1; }; \
    "$PY" -m venv /opt/bids-energy; \
    EXTRA=""; if [ "${PIPELINE}" = "demo" ]; then EXTRA="[demo]"; fi; \
    if [ -n "${WHEELHOUSE}" ]; then \
        /opt/bids-energy/bin/pip install --no-cache-dir --disable-pip-version-check --no-index \
            --find-links "/tmp/bids-energy-src/${WHEELHOUSE}" "bids-energy${EXTRA}"; \
    else \
        /opt/bids-energy/bin/pip install --no-cache-dir --disable-pip-version-check "/tmp/bids-energy-src${EXTRA}"; \
    fi; \
    ln -sf /opt/bids-energy/bin/bids-energy /usr/local/bin/bids-energy; \
    rm -rf /tmp/bids-energy-src; \
    if ! id -u "${USER_NAME}" >/dev/null 2>&1; then \
        if getent passwd "${USER_UID}" >/dev/null; then useradd --create-home --no-log-init "${USER_NAME}"; \
        else useradd --create-home --no-log-init --uid "${USER_UID}" "${USER_NAME}"; fi; \
    fi; \
    mkdir -p /data /out /work "/home/${USER_NAME}/.cache"; \
    chmod a+rwX /out /work; chmod -R a+rwX "/home/${USER_NAME}"; \
    /opt/bids-energy/bin/bids-energy --version

# Runs as a non-root user by default (FastSurfer refuses root without --allow_root); any
# uid works too (docker run -u "$(id -u)"), and root (-u 0) is allowed.
ENV BIDS_ENERGY_PIPELINE=${PIPELINE} \
    BIDS_ENERGY_IMAGE=${IMAGE_NAME} \
    BIDS_ENERGY_BASE_IMAGE=${BASE_IMAGE} \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER ${USER_NAME}
WORKDIR /work
ENTRYPOINT ["bids-energy"]
CMD ["--help"]
