/**
 * Authentication identities and RBAC authorization for the fake API server, following the
 * kube-apiserver's own rules (k8s.io/apiserver `RequestInfoFactory`, plugin/pkg/auth/authorizer/rbac
 * `RuleAllows`):
 * - a request is a resource request (`/api/v1/...`, `/apis/<g>/<v>/...` naming a resource) with a verb
 *   (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`), API group,
 *   resource and subresource (`pods/log`, `taskruns/status`), namespace and name (for list and watch,
 *   the name of a `metadata.name=` field selector, so `resourceNames` can grant a watch on one
 *   object), or a non-resource request (`/version`, `/api`, `/apis/<g>/<v>`, `/openapi/v3`) whose verb
 *   is the lowercase HTTP method;
 * - ClusterRoleBindings grant everywhere, RoleBindings only in their namespace (a RoleBinding may
 *   name a ClusterRole); subjects are Users, Groups and ServiceAccounts
 *   (`system:serviceaccount:<ns>:<name>`, groups `system:serviceaccounts`, `system:serviceaccounts:<ns>`);
 * - rules match on verbs, apiGroups, resources (`*`, `res/sub`, `* /sub`), resourceNames, and
 *   nonResourceURLs (exact or trailing `*`); a cluster-scoped or all-namespaces request needs a
 *   ClusterRoleBinding.
 * Not modelled: aggregated ClusterRoles, escalation checks on role writes, impersonation.
 * The bootstrap roles a real cluster has are created with the server: `cluster-admin` (bound to
 * `system:masters`), `system:discovery` and `system:public-info-viewer` (bound to
 * `system:authenticated`).
 */

export interface UserInfo {
  readonly name: string;
  readonly groups: readonly string[];
}

export type RequestAttributes =
  | {
      readonly resourceRequest: true;
      readonly verb: string;
      readonly apiGroup: string;
      readonly resource: string;
      readonly subresource: string;
      /** `''` for cluster-scoped and all-namespaces requests. */
      readonly namespace: string;
      readonly name: string;
    }
  | { readonly resourceRequest: false; readonly verb: string; readonly path: string };

export interface PolicyRule {
  readonly verbs?: readonly string[];
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly resourceNames?: readonly string[];
  readonly nonResourceURLs?: readonly string[];
}

export interface RbacObjects {
  readonly clusterRoles: readonly RbacObject[];
  readonly roles: readonly RbacObject[];
  readonly clusterRoleBindings: readonly RbacObject[];
  readonly roleBindings: readonly RbacObject[];
}

/** A stored Role/ClusterRole/binding, as JSON. */
export type RbacObject = Record<string, unknown> & { metadata?: Record<string, unknown> };

export const adminUser: UserInfo = { name: 'kubernetes-admin', groups: ['system:masters', 'system:authenticated'] };

export function serviceAccountUser(namespace: string, name: string): UserInfo {
  return { name: `system:serviceaccount:${namespace}:${name}`, groups: ['system:serviceaccounts', `system:serviceaccounts:${namespace}`, 'system:authenticated'] };
}

const verbOf: Readonly<Record<string, string>> = { POST: 'create', PUT: 'update', PATCH: 'patch', DELETE: 'delete', GET: 'get', HEAD: 'get' };

/** What a request asks for, as the API server's RequestInfoFactory derives it. */
export function requestAttributes(method: string, path: string, query: URLSearchParams): RequestAttributes {
  const parts = path.split('/').filter((p) => p !== '');
  let group: string;
  let rest: string[];
  if (parts[0] === 'api' && parts.length >= 3) {
    group = '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis' && parts.length >= 4) {
    group = parts[1] ?? '';
    rest = parts.slice(3);
  } else return { resourceRequest: false, verb: method.toLowerCase(), path };
  let verb = verbOf[method.toUpperCase()] ?? method.toLowerCase();
  // Legacy `/watch/` path prefix.
  if (rest[0] === 'watch') {
    verb = 'watch';
    rest = rest.slice(1);
  }
  let namespace = '';
  if (rest[0] === 'namespaces' && rest.length >= 2) {
    namespace = rest[1] ?? '';
    // `/api/v1/namespaces/<ns>` names the Namespace itself (still "in" <ns>, as the real server has it).
    if (rest.length > 2 && rest[2] !== 'status' && rest[2] !== 'finalize') rest = rest.slice(2);
  }
  const resource = rest[0] ?? '';
  let name = rest[1] ?? '';
  const subresource = rest[2] ?? '';
  if (name === '' && verb === 'get') {
    const w = query.get('watch');
    verb = w === 'true' || w === '1' ? 'watch' : 'list';
  }
  if (name === '' && verb === 'delete') verb = 'deletecollection';
  if (name === '' && (verb === 'list' || verb === 'watch')) {
    for (const term of (query.get('fieldSelector') ?? '').split(',')) {
      const m = /^metadata\.name==?(.+)$/.exec(term.trim());
      if (m?.[1] !== undefined) name = m[1];
    }
  }
  return { resourceRequest: true, verb, apiGroup: group, resource, subresource, namespace, name };
}

const has = (list: readonly string[] | undefined, v: string): boolean => (list ?? []).includes('*') || (list ?? []).includes(v);

function resourceMatches(rule: PolicyRule, resource: string, subresource: string): boolean {
  const combined = subresource === '' ? resource : `${resource}/${subresource}`;
  return (rule.resources ?? []).some((r) => r === '*' || r === combined || (subresource !== '' && r === `*/${subresource}`));
}

function nonResourceURLMatches(rule: PolicyRule, path: string): boolean {
  return (rule.nonResourceURLs ?? []).some((u) => u === '*' || u === path || (u.endsWith('*') && path.startsWith(u.slice(0, -1))));
}

export function ruleAllows(attrs: RequestAttributes, rule: PolicyRule): boolean {
  if (!has(rule.verbs, attrs.verb)) return false;
  if (!attrs.resourceRequest) return nonResourceURLMatches(rule, attrs.path);
  if (!has(rule.apiGroups, attrs.apiGroup) || !resourceMatches(rule, attrs.resource, attrs.subresource)) return false;
  const names = rule.resourceNames ?? [];
  return names.length === 0 || (attrs.name !== '' && names.includes(attrs.name));
}

function subjectMatches(user: UserInfo, subject: unknown, bindingNamespace: string): boolean {
  if (typeof subject !== 'object' || subject === null) return false;
  const s = subject as { kind?: string; name?: string; namespace?: string };
  switch (s.kind) {
    case 'User':
      return s.name === user.name;
    case 'Group':
      return s.name !== undefined && user.groups.includes(s.name);
    case 'ServiceAccount':
      return user.name === `system:serviceaccount:${s.namespace ?? bindingNamespace}:${s.name ?? ''}`;
    default:
      return false;
  }
}

const metaName = (o: RbacObject): string => String(o.metadata?.['name'] ?? '');
const metaNamespace = (o: RbacObject): string => String(o.metadata?.['namespace'] ?? '');
const rulesOf = (o: RbacObject | undefined): PolicyRule[] => (Array.isArray(o?.['rules']) ? (o['rules'] as PolicyRule[]) : []);

function boundRules(binding: RbacObject, objects: RbacObjects): PolicyRule[] {
  const ref = binding['roleRef'] as { kind?: string; name?: string } | undefined;
  if (ref?.kind === 'ClusterRole') return rulesOf(objects.clusterRoles.find((r) => metaName(r) === ref.name));
  if (ref?.kind === 'Role') return rulesOf(objects.roles.find((r) => metaName(r) === ref.name && metaNamespace(r) === metaNamespace(binding)));
  return [];
}

/** Whether RBAC grants the request, from the roles and bindings stored in the server. */
export function rbacAllows(user: UserInfo, attrs: RequestAttributes, objects: RbacObjects): boolean {
  const subjectsOf = (b: RbacObject): unknown[] => (Array.isArray(b['subjects']) ? b['subjects'] : []);
  for (const b of objects.clusterRoleBindings) {
    if (!subjectsOf(b).some((s) => subjectMatches(user, s, ''))) continue;
    if (boundRules(b, objects).some((r) => ruleAllows(attrs, r))) return true;
  }
  if (!attrs.resourceRequest || attrs.namespace === '') return false;
  for (const b of objects.roleBindings) {
    if (metaNamespace(b) !== attrs.namespace) continue;
    if (!subjectsOf(b).some((s) => subjectMatches(user, s, attrs.namespace))) continue;
    if (boundRules(b, objects).some((r) => ruleAllows(attrs, r))) return true;
  }
  return false;
}

/** The API server's 403 message for a refused request. */
export function forbiddenMessage(user: UserInfo, attrs: RequestAttributes): string {
  if (!attrs.resourceRequest) return `forbidden: User "${user.name}" cannot ${attrs.verb} path "${attrs.path}"`;
  const res = attrs.subresource === '' ? attrs.resource : `${attrs.resource}/${attrs.subresource}`;
  const what = `${attrs.resource}${attrs.apiGroup === '' ? '' : `.${attrs.apiGroup}`}${attrs.name === '' ? '' : ` "${attrs.name}"`}`;
  const scope = attrs.namespace === '' ? 'at the cluster scope' : `in the namespace "${attrs.namespace}"`;
  return `${what} is forbidden: User "${user.name}" cannot ${attrs.verb} resource "${res}" in API group "${attrs.apiGroup}" ${scope}`;
}

/** The bootstrap roles every cluster starts with (the subset the fake's clients need). */
export function bootstrapRbac(): RbacObject[] {
  const crb = (n: string, group: string): RbacObject => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRoleBinding',
    metadata: { name: n, labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' } },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: n },
    subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group }],
  });
  const cr = (n: string, rules: PolicyRule[]): RbacObject => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: { name: n, labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' } },
    rules,
  });
  return [
    cr('cluster-admin', [
      { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
      { nonResourceURLs: ['*'], verbs: ['*'] },
    ]),
    crb('cluster-admin', 'system:masters'),
    cr('system:discovery', [
      { nonResourceURLs: ['/api', '/api/*', '/apis', '/apis/*', '/healthz', '/livez', '/openapi', '/openapi/*', '/readyz', '/version', '/version/'], verbs: ['get'] },
    ]),
    crb('system:discovery', 'system:authenticated'),
    cr('system:public-info-viewer', [{ nonResourceURLs: ['/healthz', '/livez', '/readyz', '/version', '/version/'], verbs: ['get'] }]),
    crb('system:public-info-viewer', 'system:authenticated'),
  ];
}
