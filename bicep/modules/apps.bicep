// The internal Container Apps environment on the VNet, the index server (internal ingress,
// min 1 replica, HTTP scaling, probes on /health) and the sync as scheduled jobs (one per
// shard), both from the one image; and a private DNS zone for the environment's domain, so the
// index host name resolves inside the VNet (and in a linked Azure ML VNet).

@description('Required. Prefix of the resource names.')
param namePrefix string

@description('Optional. Azure region for all resources.')
param location string = resourceGroup().location

@description('Required. Resource ID of the subnet delegated to Microsoft.App/environments.')
param appsSubnetId string

@description('Required. Resource IDs of the VNets that resolve the index host name (the deployment VNet first).')
param vnetIds array

@description('Required. Address prefix of the apps subnet: the ingress proxies connect from it, so the server trusts their X-Forwarded-For (per-client auth failure limits).')
param appsSubnetPrefix string

@description('Required. Resource ID of the Log Analytics workspace.')
param workspaceId string

@description('Required. Login server of the registry, e.g. NAME.azurecr.io.')
param registryServer string

@description('Required. Image reference without the registry, e.g. blobpi:0.1.0.')
param image string

@description('Optional. Image of the sync jobs without the registry host: the image with the allow-list baked in (.github/sync.Dockerfile); empty for image, whose sync fails until one is.')
param syncImage string = ''

@description('Required. URL of the index container, https://ACCOUNT.blob.core.windows.net/CONTAINER.')
param containerUrl string

@description('Required. Resource ID of the server identity.')
param serverIdentityId string

@description('Required. Client ID of the server identity.')
param serverClientId string

@description('Required. Resource ID of the sync identity.')
param syncIdentityId string

@description('Required. Client ID of the sync identity.')
param syncClientId string

@description('Required. URI of the key vault, https://NAME.vault.azure.net/.')
param vaultUri string

@description('Optional. Name of a key vault secret holding the token file (JSON, as blobpi token commands write it), mounted as BLOBPI_TOKEN_FILE; empty to keep tokens in the container (state/tokens.json).')
param tokenSecretName string = ''

@description('Optional. Let clients inside the network read without a token.')
param anonymousRead bool = false

@description('Optional. Most server replicas under load.')
@minValue(1)
@maxValue(30)
param maxReplicas int = 5

@description('Optional. Concurrent requests per replica before another is added.')
@minValue(1)
param concurrentRequests int = 50

@description('Optional. Cron schedule (UTC) of the sync.')
param syncSchedule string = '17 * * * *'

@description('Required. Upstream simple index the sync mirrors from (PEP 691 JSON), ending in /simple/.')
param upstreamUrl string

@description('Optional. Number of sync jobs, each mirroring one shard (BLOBPI_SHARD K/N) of the allow-list.')
@minValue(1)
@maxValue(16)
param syncShards int = 1

@description('Optional. Tags for all resources.')
param tags object = {}

var tokenFile = '/etc/blobpi/secrets/tokens.json'
var serverEnv = [
  {
    name: 'BLOBPI_STORAGE'
    value: containerUrl
  }
  {
    name: 'AZURE_CLIENT_ID'
    value: serverClientId
  }
  {
    name: 'BLOBPI_ANONYMOUS_READ'
    value: anonymousRead ? 'true' : 'false'
  }
  {
    name: 'FORWARDED_ALLOW_IPS'
    value: appsSubnetPrefix
  }
]
var tokenEnv = empty(tokenSecretName) ? [] : [
  {
    name: 'BLOBPI_TOKEN_FILE'
    value: tokenFile
  }
]
var healthProbe = {
  path: '/health'
  port: 8080
  scheme: 'HTTP'
}

resource managedEnv 'Microsoft.App/managedEnvironments@2024-03-01' = {
  name: '${namePrefix}-env'
  location: location
  tags: tags
  properties: {
    vnetConfiguration: {
      internal: true
      infrastructureSubnetId: appsSubnetId
    }
    workloadProfiles: [
      {
        name: 'Consumption'
        workloadProfileType: 'Consumption'
      }
    ]
    appLogsConfiguration: {
      destination: 'azure-monitor'
    }
    zoneRedundant: true
  }
}

resource environmentLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: managedEnv
  properties: {
    workspaceId: workspaceId
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
  }
}

module zone 'dns-zone.bicep' = {
  name: 'apps-zone-${uniqueString(namePrefix)}'
  params: {
    name: managedEnv.properties.defaultDomain
    vnetIds: vnetIds
    wildcardIp: managedEnv.properties.staticIp
    tags: tags
  }
}

resource server 'Microsoft.App/containerApps@2024-03-01' = {
  name: '${namePrefix}-server'
  location: location
  tags: tags
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${serverIdentityId}': {}
    }
  }
  properties: {
    environmentId: managedEnv.id
    workloadProfileName: 'Consumption'
    configuration: {
      activeRevisionsMode: 'Single'
      ingress: {
        external: false
        targetPort: 8080
        transport: 'http'
        allowInsecure: false
      }
      registries: [
        {
          server: registryServer
          identity: serverIdentityId
        }
      ]
      secrets: empty(tokenSecretName) ? [] : [
        {
          name: 'tokens'
          keyVaultUrl: '${vaultUri}secrets/${tokenSecretName}'
          identity: serverIdentityId
        }
      ]
    }
    template: {
      volumes: empty(tokenSecretName) ? [] : [
        {
          name: 'tokens'
          storageType: 'Secret'
          secrets: [
            {
              secretRef: 'tokens'
              path: 'tokens.json'
            }
          ]
        }
      ]
      containers: [
        {
          name: 'server'
          image: '${registryServer}/${image}'
          resources: {
            cpu: json('0.5')
            memory: '1Gi'
          }
          env: concat(serverEnv, tokenEnv)
          volumeMounts: empty(tokenSecretName) ? [] : [
            {
              volumeName: 'tokens'
              mountPath: '/etc/blobpi/secrets'
            }
          ]
          probes: [
            {
              type: 'Startup'
              httpGet: healthProbe
              periodSeconds: 5
              failureThreshold: 24
            }
            {
              type: 'Readiness'
              httpGet: healthProbe
              periodSeconds: 10
            }
            {
              type: 'Liveness'
              httpGet: healthProbe
              periodSeconds: 30
            }
          ]
        }
      ]
      scale: {
        minReplicas: 1
        maxReplicas: maxReplicas
        rules: [
          {
            name: 'http'
            http: {
              metadata: {
                concurrentRequests: string(concurrentRequests)
              }
            }
          }
        ]
      }
    }
  }
}

resource syncJobs 'Microsoft.App/jobs@2024-03-01' = [
  for shard in range(0, syncShards): {
    name: '${namePrefix}-sync-${shard + 1}'
    location: location
    tags: union(tags, {
      'blobpi-role': 'sync'
    })
    identity: {
      type: 'UserAssigned'
      userAssignedIdentities: {
        '${syncIdentityId}': {}
      }
    }
    properties: {
      environmentId: managedEnv.id
      workloadProfileName: 'Consumption'
      configuration: {
        triggerType: 'Schedule'
        scheduleTriggerConfig: {
          cronExpression: syncSchedule
          parallelism: 1
          replicaCompletionCount: 1
        }
        replicaTimeout: 14400
        replicaRetryLimit: 1
        registries: [
          {
            server: registryServer
            identity: syncIdentityId
          }
        ]
      }
      template: {
        containers: [
          {
            name: 'sync'
            image: '${registryServer}/${empty(syncImage) ? image : syncImage}'
            args: [
              'sync'
            ]
            resources: {
              cpu: json('1.0')
              memory: '2Gi'
            }
            env: [
              {
                name: 'BLOBPI_STORAGE'
                value: containerUrl
              }
              {
                name: 'AZURE_CLIENT_ID'
                value: syncClientId
              }
              {
                name: 'BLOBPI_UPSTREAM'
                value: upstreamUrl
              }
              {
                name: 'BLOBPI_SHARD'
                value: '${shard + 1}/${syncShards}' // K/N counts from 1
              }
            ]
          }
        ]
      }
    }
  }
]

@description('The URL pip, uv and Azure ML use as --index-url.')
output indexUrl string = 'https://${server.properties.configuration.ingress.fqdn}/simple/'

@description('The name of the Container Apps environment.')
output environmentName string = managedEnv.name

@description('The name of the server container app.')
output serverName string = server.name

@description('The names of the sync jobs.')
output syncJobNames array = [for shard in range(0, syncShards): syncJobs[shard].name]
