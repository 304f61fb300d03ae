# The Kubernetes manifests of deploy/k8s (k8s/check.sh): kubectl's
# kustomize renders them as `kubectl apply -k` would, the Kubernetes API
# schemas (npm kubernetes-models, pinned in k8s/package-lock.json) and the
# aggregator itself (--check-config on every configuration, with keys from
# deploy/k8s/secrets.sh) check them. `scripts/deps.sh test` installs
# kubectl, node and the npm packages; nothing is fetched at test time.
#
# A check can be put on an expected-failure list while what it needs is
# missing: --xfail NAME_PREFIX=REGEX (each problem must match REGEX); a
# listed check that passes fails the test. The list is empty.
set(FR_K8S_XFAIL)
set(fr_k8s_args)
foreach(x IN LISTS FR_K8S_XFAIL)
  list(APPEND fr_k8s_args --xfail "${x}")
endforeach()
add_test(NAME test_k8s_manifests
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/k8s/check.sh ${PROJECT_SOURCE_DIR}
          $<TARGET_FILE:fedrec-aggregator> $<TARGET_FILE:fedrec-keygen>
          ${fr_k8s_args})
set_tests_properties(test_k8s_manifests PROPERTIES LABELS unit TIMEOUT 60)
