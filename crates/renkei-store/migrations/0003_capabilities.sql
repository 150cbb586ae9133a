-- The services and capabilities institutions offer (往診, 訪問診療, 24時間対応 …), searched by
-- citizens and professionals.

CREATE TABLE institution_capabilities (
    institution_id BIGINT NOT NULL REFERENCES institutions (id),
    capability TEXT NOT NULL,
    PRIMARY KEY (institution_id, capability)
);

CREATE INDEX institution_capabilities_by_capability ON institution_capabilities (capability, institution_id);
