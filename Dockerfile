# The image release drivers run releaser in: the same tool, the same git and gpg, on any
# machine. `bin/releaser-docker` runs it with the current checkout mounted at /work.
#
#   docker build -t releaser .
#   docker run --rm -it -v "$PWD:/work" --env-file .env releaser status v1.2.0
FROM debian:bookworm-slim

# The tools steps call for real: git (clone, tag, push over HTTPS or SSH), gnupg (signed
# tags and checksums), python3 for the tool itself. Versions: whatever Debian 12 ships in
# its stable/security suites (the distribution release is the pin).
# No manuals, docs or translations (Docker Hub's slim image excludes them too; a base built
# another way may not): about 80 MB less.
# hadolint ignore=DL3008
RUN printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
        'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
        'path-exclude /usr/share/locale/*' 'path-include /usr/share/locale/locale.alias' \
        > /etc/dpkg/dpkg.cfg.d/90-releaser-slim \
    && apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        ca-certificates \
        git \
        gnupg \
        gpg-agent \
        openssh-client \
        python3 \
        python3-venv \
    && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /var/cache/apt/*.bin

# The package in its own venv; its dependencies are pinned in pyproject.toml. On PATH after
# /usr/local/bin, where the entry shim (`releaser`) is.
ENV VIRTUAL_ENV=/opt/releaser \
    PATH=/usr/local/bin:/opt/releaser/bin:$PATH \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
COPY pyproject.toml README.md /src/
COPY releaser /src/releaser
COPY steps /src/steps
# pip and setuptools leave afterwards (25 MB); the bytecode is compiled now, as the
# runtime user can't write it.
RUN python3 -m venv /opt/releaser \
    && /opt/releaser/bin/pip install --no-compile /src \
    && /opt/releaser/bin/python -m pip uninstall --yes --quiet pip setuptools \
    && rm -rf /src \
    && /opt/releaser/bin/python -m compileall -q /opt/releaser/lib

# Any uid may run the image (`--user $(id -u):$(id -g)` so files written to the mounted
# checkout belong to the caller): HOME is shared and writable, the checkout is a safe
# directory whoever owns it, and the entry shim gives git an identity and gpg a writable
# home when the uid has no passwd entry. The system git identity is a fallback only: a
# mounted ~/.gitconfig (or [git] author_name/author_email) wins over it.
COPY bin/container-entrypoint /usr/local/bin/releaser
RUN chmod 0755 /usr/local/bin/releaser \
    && useradd --create-home --home-dir /home/releaser --uid 10001 --user-group \
        --shell /usr/sbin/nologin releaser \
    && chmod 1777 /home/releaser \
    && git config --system --add safe.directory /work \
    && git config --system init.defaultBranch main \
    && git config --system user.name "releaser (container)" \
    && git config --system user.email "releaser@localhost" \
    && mkdir -p /work \
    && chown releaser:releaser /work
ENV HOME=/home/releaser \
    RELEASER_IN_CONTAINER=1

# releaser (numeric, so the runtime needs no passwd lookup to know it is not root)
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["releaser"]
CMD ["--help"]
