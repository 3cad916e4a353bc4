//! Workloads for benchmarks: a deterministic generator of AI-agent-platform policy sets of any
//! size (agents owned by humans, teams and roles, tools and toolkits, datasets and documents,
//! scoped permits with conditions, a few forbids), in Cedar's formats so that Mandate and the
//! `cedar-policy` crate run the identical workload, and a loader for the reference workloads in
//! `../shared/bench/agent-platform`.

use std::fmt::Write as _;

/// A workload in Cedar's text formats.
#[derive(Clone, Debug)]
pub struct Workload {
    /// A name for reports.
    pub name: String,
    /// Cedar schema text.
    pub schema: String,
    /// Cedar policy text.
    pub policies: String,
    /// Cedar entity JSON.
    pub entities: String,
    /// A JSON array of requests in the `authorize` format.
    pub requests: String,
}

/// A small deterministic PRNG (splitmix64), so workloads are identical across runs and machines.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        let n = n.max(1) as u64;
        usize::try_from(self.next_u64() % n).unwrap_or(0)
    }
}

const SCHEMA: &str = r#"namespace Agents {
  entity Org;
  entity Team in [Org];
  entity Role in [Role];
  entity Human in [Team, Role] { active: Bool, clearance: Long };
  entity Agent in [Team, Role] { owner: Human, active: Bool, trust: Long };
  entity Toolkit in [Org];
  entity Tool in [Toolkit] { risk: Long };
  entity Project in [Org];
  entity Dataset in [Project] { owner: Human, sensitivity: Long };
  entity Document in [Dataset] { owner: Human, sensitivity: Long };
  type Ctx = { cost: Long, tokens: Long, approved: Bool, hour: Long };
  action "Read";
  action "Write";
  action "Tools";
  action "read" in ["Read"] appliesTo { principal: [Agent, Human], resource: [Document, Dataset], context: Ctx };
  action "query" in ["Read"] appliesTo { principal: [Agent, Human], resource: [Dataset], context: Ctx };
  action "write" in ["Write"] appliesTo { principal: [Agent, Human], resource: [Document], context: Ctx };
  action "invoke" in ["Tools"] appliesTo { principal: [Agent, Human], resource: [Tool], context: Ctx };
  action "configure" in ["Tools"] appliesTo { principal: [Agent, Human], resource: [Tool], context: Ctx };
}
"#;

/// Entity counts derived from the total.
struct Sizes {
    teams: usize,
    roles: usize,
    humans: usize,
    agents: usize,
    toolkits: usize,
    tools: usize,
    projects: usize,
    datasets: usize,
    documents: usize,
}

impl Sizes {
    fn for_total(n: usize) -> Self {
        let n = n.max(100);
        Sizes {
            teams: n / 100 + 1,
            roles: n / 200 + 1,
            humans: n / 10,
            agents: n / 4,
            toolkits: n / 250 + 1,
            tools: n / 20,
            projects: n / 200 + 1,
            datasets: n / 50,
            documents: n
                - n / 10
                - n / 4
                - n / 20
                - n / 50
                - n / 100
                - n / 200
                - n / 250
                - n / 200
                - 4,
        }
    }
}

fn uid(ty: &str, id: &str) -> String {
    format!("{{\"type\": \"Agents::{ty}\", \"id\": \"{id}\"}}")
}

/// Generates a workload with `n_policies` policies over about `n_entities` entities and
/// `n_requests` requests.
pub fn generate(n_policies: usize, n_entities: usize, n_requests: usize, seed: u64) -> Workload {
    let mut rng = Rng::new(seed);
    let s = Sizes::for_total(n_entities);
    let mut ents: Vec<String> = Vec::new();
    ents.push(format!(
        "{{\"uid\": {}, \"attrs\": {{}}, \"parents\": []}}",
        uid("Org", "org")
    ));
    for t in 0..s.teams {
        ents.push(format!(
            "{{\"uid\": {}, \"attrs\": {{}}, \"parents\": [{}]}}",
            uid("Team", &format!("team-{t}")),
            uid("Org", "org")
        ));
    }
    for r in 0..s.roles {
        let parent = if r > 0 && rng.below(2) == 0 {
            format!("[{}]", uid("Role", &format!("role-{}", rng.below(r))))
        } else {
            "[]".into()
        };
        ents.push(format!(
            "{{\"uid\": {}, \"attrs\": {{}}, \"parents\": {parent}}}",
            uid("Role", &format!("role-{r}"))
        ));
    }
    for h in 0..s.humans {
        ents.push(format!(
            "{{\"uid\": {}, \"attrs\": {{\"active\": {}, \"clearance\": {}}}, \"parents\": [{}, {}]}}",
            uid("Human", &format!("human-{h}")),
            rng.below(20) != 0,
            rng.below(5),
            uid("Team", &format!("team-{}", rng.below(s.teams))),
            uid("Role", &format!("role-{}", rng.below(s.roles)))
        ));
    }
    for a in 0..s.agents {
        ents.push(format!(
            "{{\"uid\": {}, \"attrs\": {{\"owner\": {{\"__entity\": {}}}, \"active\": {}, \"trust\": {}}}, \"parents\": [{}, {}]}}",
            uid("Agent", &format!("agent-{a}")),
            uid("Human", &format!("human-{}", rng.below(s.humans))),
            rng.below(20) != 0,
            rng.below(5),
            uid("Team", &format!("team-{}", rng.below(s.teams))),
            uid("Role", &format!("role-{}", rng.below(s.roles)))
        ));
    }
    for k in 0..s.toolkits {
        ents.push(format!(
            "{{\"uid\": {}, \"attrs\": {{}}, \"parents\": [{}]}}",
            uid("Toolkit", &format!("toolkit-{k}")),
            uid("Org", "org")
        ));
    }
    for t in 0..s.tools {
        ents.push(format!(
            "{{\"uid\": {}, \"attrs\": {{\"risk\": {}}}, \"parents\": [{}]}}",
            uid("Tool", &format!("tool-{t}")),
            rng.below(5),
            uid("Toolkit", &format!("toolkit-{}", rng.below(s.toolkits)))
        ));
    }
    for p in 0..s.projects {
        ents.push(format!(
            "{{\"uid\": {}, \"attrs\": {{}}, \"parents\": [{}]}}",
            uid("Project", &format!("proj-{p}")),
            uid("Org", "org")
        ));
    }
    for d in 0..s.datasets {
        ents.push(format!(
            "{{\"uid\": {}, \"attrs\": {{\"owner\": {{\"__entity\": {}}}, \"sensitivity\": {}}}, \"parents\": [{}]}}",
            uid("Dataset", &format!("ds-{d}")),
            uid("Human", &format!("human-{}", rng.below(s.humans))),
            rng.below(5),
            uid("Project", &format!("proj-{}", rng.below(s.projects)))
        ));
    }
    for d in 0..s.documents {
        ents.push(format!(
            "{{\"uid\": {}, \"attrs\": {{\"owner\": {{\"__entity\": {}}}, \"sensitivity\": {}}}, \"parents\": [{}]}}",
            uid("Document", &format!("doc-{d}")),
            uid("Human", &format!("human-{}", rng.below(s.humans))),
            rng.below(5),
            uid("Dataset", &format!("ds-{}", rng.below(s.datasets)))
        ));
    }
    let mut pol = String::new();
    let _ = writeln!(
        pol,
        "forbid (principal, action, resource) when {{ principal has active && !principal.active }};"
    );
    let _ = writeln!(
        pol,
        "forbid (principal is Agents::Agent, action in Agents::Action::\"Write\", resource) when {{ resource.sensitivity >= 3 && principal.trust < 3 }};"
    );
    let _ = writeln!(
        pol,
        "permit (principal is Agents::Agent, action in Agents::Action::\"Read\", resource) when {{ resource.owner == principal.owner && context.cost < 100 }};"
    );
    for i in 3..n_policies.max(3) {
        let line = match i % 6 {
            0 => format!(
                "permit (principal == Agents::Agent::\"agent-{}\", action == Agents::Action::\"invoke\", resource == Agents::Tool::\"tool-{}\") when {{ context.cost < {} && principal.trust >= {} }};",
                rng.below(s.agents),
                rng.below(s.tools),
                100 * (1 + rng.below(9)),
                rng.below(3)
            ),
            1 => format!(
                "permit (principal in Agents::Role::\"role-{}\", action in Agents::Action::\"Read\", resource in Agents::Project::\"proj-{}\") when {{ resource.sensitivity <= 2 && context.tokens < 30000 }};",
                rng.below(s.roles),
                rng.below(s.projects)
            ),
            2 => format!(
                "permit (principal in Agents::Team::\"team-{}\", action in [Agents::Action::\"invoke\", Agents::Action::\"configure\"], resource in Agents::Toolkit::\"toolkit-{}\") when {{ resource.risk <= 2 && context.hour >= 8 && context.hour < 20 }};",
                rng.below(s.teams),
                rng.below(s.toolkits)
            ),
            3 => format!(
                "permit (principal == Agents::Agent::\"agent-{}\", action == Agents::Action::\"write\", resource in Agents::Dataset::\"ds-{}\") when {{ context.approved }};",
                rng.below(s.agents),
                rng.below(s.datasets)
            ),
            4 => format!(
                "permit (principal == Agents::Human::\"human-{}\", action, resource in Agents::Project::\"proj-{}\") when {{ principal.clearance >= resource.sensitivity }};",
                rng.below(s.humans),
                rng.below(s.projects)
            ),
            _ => format!(
                "forbid (principal == Agents::Agent::\"agent-{}\", action in Agents::Action::\"Tools\", resource) when {{ context.cost > {} }};",
                rng.below(s.agents),
                1000 + rng.below(1000)
            ),
        };
        let _ = writeln!(pol, "{line}");
    }
    let mut reqs = Vec::with_capacity(n_requests);
    for _ in 0..n_requests {
        let agent = rng.below(3) != 0;
        let principal = if agent {
            uid("Agent", &format!("agent-{}", rng.below(s.agents)))
        } else {
            uid("Human", &format!("human-{}", rng.below(s.humans)))
        };
        let (action, resource) = match rng.below(4) {
            0 => (
                "read",
                uid("Document", &format!("doc-{}", rng.below(s.documents))),
            ),
            1 => (
                "query",
                uid("Dataset", &format!("ds-{}", rng.below(s.datasets))),
            ),
            2 => (
                "write",
                uid("Document", &format!("doc-{}", rng.below(s.documents))),
            ),
            _ => (
                "invoke",
                uid("Tool", &format!("tool-{}", rng.below(s.tools))),
            ),
        };
        reqs.push(format!(
            "{{\"principal\": {principal}, \"action\": {}, \"resource\": {resource}, \"context\": {{\"cost\": {}, \"tokens\": {}, \"approved\": {}, \"hour\": {}}}}}",
            uid("Action", action),
            rng.below(1500),
            rng.below(40000),
            rng.below(2) == 0,
            rng.below(24)
        ));
    }
    Workload {
        name: format!("generated-n{n_policies}"),
        schema: SCHEMA.to_string(),
        policies: pol,
        entities: format!("[\n{}\n]", ents.join(",\n")),
        requests: format!("[\n{}\n]", reqs.join(",\n")),
    }
}

/// Loads a reference workload folder (`policies.cedar`, `entities.json`, `schema.cedarschema`,
/// `requests.json`).
///
/// # Errors
/// A missing or unreadable file.
pub fn load_dir(dir: &std::path::Path) -> std::io::Result<Workload> {
    let read = |f: &str| std::fs::read_to_string(dir.join(f));
    Ok(Workload {
        name: dir
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default(),
        schema: read("schema.cedarschema")?,
        policies: read("policies.cedar")?,
        entities: read("entities.json")?,
        requests: read("requests.json")?,
    })
}
